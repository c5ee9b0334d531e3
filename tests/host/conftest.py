"""An in-process host (no server): WSGI calls straight into host.app.Host."""

import contextlib
import io
import json
import os
import runpy
import selectors
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from wsgiref.util import setup_testing_defaults

import pytest

from host.app import Host, make_app
from tests.factories import ROOT


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    app: Host,
    method: str,
    path: str,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    raw: bool = False,
    stream: io.RawIOBase | None = None,
    length: int | None = -1,
) -> Answer:
    """One request; ``path`` is percent-encoded here unless ``raw`` (then sent as given). The body is
    ``body`` with its Content-Length, or ``stream`` with ``length`` (None: no Content-Length)."""
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    target = path if raw else quote(path, safe="/%")
    environ.update(
        REQUEST_METHOD=method,
        RAW_URI=target + (f"?{query}" if query else ""),
        QUERY_STRING=query,
        PATH_INFO=path,
        CONTENT_LENGTH=str(len(body)) if length == -1 else ("" if length is None else str(length)),
        REMOTE_ADDR="203.0.113.9",
    )
    environ["wsgi.input"] = stream or io.BytesIO(body)
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    seen: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        seen.update(status=int(status.split(maxsplit=1)[0]), headers=response_headers)

    chunks = app(environ, start_response)
    return Answer(seen["status"], seen["headers"], b"".join(chunks))


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Host:
    monkeypatch.chdir(ROOT)
    return make_app(ROOT / "template.yaml")


class _Loaded:
    """Stands in for gunicorn's application object: the worker asks it for the WSGI app."""

    def __init__(self, app: Host) -> None:
        self.app = app

    def wsgi(self) -> Host:
        return self.app


@contextlib.contextmanager
def worker_serving(app: Host, **settings: Any) -> Iterator[tuple[str, Any]]:
    """host.worker.HostWorker serving ``app`` on 127.0.0.1 in this process (a thread runs its event
    loop), with the settings of host/gunicorn.conf.py and ``settings`` on top: what each gunicorn
    worker process runs, minus the fork and the signals."""
    from gunicorn import util  # type: ignore[import-untyped]
    from gunicorn.config import Config  # type: ignore[import-untyped]
    from gunicorn.glogging import Logger  # type: ignore[import-untyped]

    from host.worker import HostWorker

    config = Config()
    for name, value in {**runpy.run_path(str(ROOT / "host" / "gunicorn.conf.py")), **settings}.items():
        if name in config.settings:
            config.set(name, value)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    written = util.write_error
    worker = HostWorker(1, os.getppid(), [listener], _Loaded(app), 60, config, Logger(config))
    worker.tpool = worker.get_thread_pool()
    worker.poller = selectors.DefaultSelector()
    worker.method_queue.init()
    worker.prepare()
    worker.load_wsgi()
    loop = threading.Thread(target=worker.run, daemon=True)
    loop.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", worker
    finally:
        worker.alive = False
        worker.method_queue.defer(lambda: None)  # wakes the loop, as SIGTERM does
        loop.join(30)
        worker.tmp.close()
        listener.close()
        util.write_error = written
