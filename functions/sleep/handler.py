"""GET /sleep/{seconds} : wiring only; the behaviour lives in simple_api.services.sleep."""

from typing import Any

from simple_api.http import ProxyEvent, endpoint, path_parameter
from simple_api.observability import correlation_paths, logger, metrics
from simple_api.services import sleep
from simple_api.settings import get_settings


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
@endpoint
def lambda_handler(event: ProxyEvent, context: Any) -> str:
    return sleep.sleep_for(path_parameter(event, "seconds"), get_settings().max_sleep_seconds)
