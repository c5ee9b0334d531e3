"""moto's server on a listening socket that `make run` (host/local.py) bound and passed down.

``moto_server -p PORT`` binds the port itself; when another run already holds it, it fails, and the
URL keeps answering: the other run's moto. Serving on a socket the parent bound first means the local
AWS a run seeds and talks to is always its own.

    python -m host.local_aws FD
"""

import os
import signal
import socket
import sys
from types import FrameType

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server


def server(fd: int) -> BaseWSGIServer:
    """moto's server (what ``moto_server`` runs) on the listening socket ``fd``."""
    with socket.socket(fileno=os.dup(fd)) as probe:
        host, port = probe.getsockname()[:2]
    os.environ.setdefault("MOTO_PORT", str(port))  # moto builds some URLs (queues, presigned) with it
    app = DomainDispatcherApplication(create_backend_app)
    return make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler, fd=fd)


def main(fd: int) -> None:
    def stop(number: int, frame: FrameType | None) -> None:
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server(fd).serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
