"""Powertools singletons shared by every handler.

* ``logger``: structured JSON logs; service name from ``POWERTOOLS_SERVICE_NAME``; handlers add
  the API Gateway request id as correlation id (``correlation_paths.API_GATEWAY_REST``).
* ``metrics``: CloudWatch EMF; namespace from ``POWERTOOLS_METRICS_NAMESPACE``; handlers turn on
  the ``ColdStart`` metric.
* Tracing: Lambda active tracing (``Tracing: Active`` in the template) records every invocation
  and its init phase. The X-Ray SDK (Powertools ``Tracer``) is not imported: it costs ~270 ms of
  cold start and our handlers have no downstream call worth a subsegment (docs/decisions.md).
"""

import warnings

from aws_lambda_powertools.logging import Logger, correlation_paths
from aws_lambda_powertools.metrics import Metrics, MetricUnit, single_metric

__all__ = ["MetricUnit", "correlation_paths", "count_metric", "logger", "metrics"]

logger = Logger(utc=True)
metrics = Metrics()

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
