"""gunicorn settings for the host: threads, so one long /sleep never blocks /healthcheck.

Every value can be overridden by the environment (EC2 and Fargate set HOST_BIND to their port).
Measured with `make bench` (docs/decisions.md): 2 workers x 8 threads serve more /healthcheck per
second than 2 x 16 (fewer threads contend for the GIL) and still hold 16 requests at once; the
access log is off by default, as in Lambda, because the ALB or API Gateway logs every request
(HOST_ACCESS_LOG=- turns it on; it costs about a third of the idle throughput).
"""

import os
from pathlib import Path

bind = os.environ.get("HOST_BIND", "127.0.0.1:3000")
worker_class = "gthread"
workers = int(os.environ.get("HOST_WORKERS", "2"))
threads = int(os.environ.get("HOST_THREADS", "8"))
# The longest request is a 25 s sleep; gthread workers keep their heartbeat while threads sleep.
timeout = int(os.environ.get("HOST_WORKER_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("HOST_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
accesslog = os.environ.get("HOST_ACCESS_LOG") or None
access_log_format = '{"remote":"%(h)s","request":"%(r)s","status":%(s)s,"bytes":"%(b)s","ms":%(M)s}'
errorlog = "-"
loglevel = os.environ.get("HOST_LOG_LEVEL", "info")
preload_app = False
# Worker heartbeats are files; /dev/shm (a tmpfs in every container) keeps them off a read-only
# root filesystem (the Fargate task runs with one) and off slow disks.
worker_tmp_dir = os.environ.get("HOST_WORKER_TMP_DIR") or ("/dev/shm" if Path("/dev/shm").is_dir() else None)  # noqa: S108  # nosec B108
