"""Powertools singletons shared by every handler.

* ``logger``: structured JSON logs; service name from ``POWERTOOLS_SERVICE_NAME``; handlers add
  the API Gateway request id as correlation id (``correlation_paths.API_GATEWAY_REST``).
* ``metrics``: CloudWatch EMF; namespace from ``POWERTOOLS_METRICS_NAMESPACE``; handlers turn on
  the ``ColdStart`` metric.
* Every metric and log line carries ``environment`` (dev, prod: ``ENVIRONMENT``, from the template)
  and ``runtime`` (lambda, ec2, fargate, local), so one environment's or runtime's traffic never
  feeds another's alarms (the alarms name both dimensions).
* Tracing: Lambda active tracing (``Tracing: Active`` in the template) records every invocation
  and its init phase. The X-Ray SDK (Powertools ``Tracer``) is not imported: it costs ~270 ms of
  cold start and our handlers have no downstream call worth a subsegment (docs/decisions.md).
"""

import os
import threading
import warnings
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from aws_lambda_powertools.logging import Logger, correlation_paths
from aws_lambda_powertools.metrics import Metrics, MetricUnit, single_metric

__all__ = [
    "MetricUnit",
    "correlation_paths",
    "count_metric",
    "deployment_dimensions",
    "logger",
    "metrics",
    "share_between_threads",
]


def deployment_dimensions(environ: Mapping[str, str]) -> dict[str, str]:
    """Where this code runs: the environment the stack was deployed as, and the runtime. Lambda
    (and sam local) set AWS_LAMBDA_FUNCTION_NAME; the host's runtimes set HOST_RUNTIME (ec2,
    fargate; make run: local)."""
    runtime = "lambda" if environ.get("AWS_LAMBDA_FUNCTION_NAME") else environ.get("HOST_RUNTIME") or "local"
    return {"environment": environ.get("ENVIRONMENT") or "local", "runtime": runtime}


logger = Logger(utc=True)
metrics = Metrics()
_WHERE = deployment_dimensions(os.environ)
logger.append_keys(**_WHERE)
metrics.set_default_dimensions(**_WHERE)

# Most requests add no application metric; Powertools then warns on every flush. That is
# expected here, not a fault, and would only add a stderr line per request.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def count_metric(name: str, **dimensions: str) -> None:
    """Emit one Count metric now, with the service dimension plus ``dimensions``.

    Used for metrics whose dimensions differ from the request-wide set (e.g. the function
    version that CodeDeploy alarms watch during a canary).
    """
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        if metrics.service:
            metric.add_dimension(name="service", value=metrics.service)
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=value)


def _locked(lock: threading.RLock, method: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return call


def share_between_threads() -> None:
    """Make the singletons safe for many requests per process (host/ with gunicorn threads).

    Lambda runs one request per process at a time, which Powertools assumes: the logger's request
    keys (correlation id, request id) are global, and the metric set is one shared dict. Under
    threads, keys go thread-local (each thread starts a request with none) and metric operations
    take one lock. Idempotent.
    """
    if getattr(logger, "_shared_between_threads", False):
        return
    logger.append_keys = logger.thread_safe_append_keys  # type: ignore[method-assign]
    lock = threading.RLock()
    provider = metrics.provider
    for name in (
        "add_metric",
        "add_dimension",
        "add_metadata",
        "flush_metrics",
        "clear_metrics",
        "serialize_metric_set",
    ):
        setattr(provider, name, _locked(lock, getattr(provider, name)))
    logger._shared_between_threads = True  # type: ignore[attr-defined]


def start_request() -> None:
    """Forget the previous request's thread-local log keys (a pooled thread serves many requests)."""
    logger.thread_safe_clear_keys()
