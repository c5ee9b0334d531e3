"""gunicorn settings for the host, the same on EC2, Fargate and `make run`.

The worker is host.worker.HostWorker: gthread's threads, with request heads read by the event loop,
threads kept for the health check and a bulkhead (docs/host.md). Sizes and bounds come from
host/limits.py. Measured with `make bench` (docs/decisions.md): 2 workers x 8 threads; the access log
is off by default, as in Lambda, because the ALB or API Gateway logs every request (HOST_ACCESS_LOG=-
turns it on; it costs about a third of the idle throughput).

HOST_BIND is an address (EC2, Fargate) or fd://N, a socket `make run` bound itself. HOST_RUN_DIR, a
private directory of one run (`make run` makes one), holds the control socket (gunicornc) and the
worker heartbeats; without it the control socket is off and heartbeats go to /dev/shm.
"""

import os
from pathlib import Path

from host.limits import Limits

limits = Limits.from_environ()
run_dir = os.environ.get("HOST_RUN_DIR")

bind = os.environ.get("HOST_BIND", "127.0.0.1:3000")
worker_class = "host.worker.HostWorker"
workers = limits.workers
threads = limits.threads
# The longest request is a 25 s sleep; the worker's event loop keeps the heartbeat while threads sleep.
timeout = int(os.environ.get("HOST_WORKER_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("HOST_GRACEFUL_TIMEOUT", "30"))
keepalive = limits.keepalive  # longer than the load balancer's idle timeout (it must close first)
limit_request_line = limits.request_line_bytes
limit_request_fields = limits.header_count
accesslog = os.environ.get("HOST_ACCESS_LOG") or None
access_log_format = '{"remote":"%(h)s","request":"%(r)s","status":%(s)s,"bytes":"%(b)s","ms":%(M)s}'
errorlog = "-"
loglevel = os.environ.get("HOST_LOG_LEVEL", "info")
preload_app = False
control_socket_disable = run_dir is None
control_socket = str(Path(run_dir) / "gunicorn.ctl") if run_dir else None
# Worker heartbeats are files; /dev/shm (a tmpfs in every container) keeps them off a read-only
# root filesystem (the Fargate task runs with one) and off slow disks.
worker_tmp_dir = (
    os.environ.get("HOST_WORKER_TMP_DIR") or run_dir or ("/dev/shm" if Path("/dev/shm").is_dir() else None)  # noqa: S108  # nosec B108
)
