"""GET /secret : wiring only; the behaviour lives in simple_api.services.secret."""

from functools import cache
from typing import Any

from simple_api.adapters.ssm import SsmSecretStore
from simple_api.http import ProxyEvent, endpoint
from simple_api.observability import correlation_paths, logger, metrics
from simple_api.services import secret
from simple_api.settings import get_settings


@cache
def _store() -> SsmSecretStore:
    """One store per container, so the Powertools cache survives between requests."""
    return SsmSecretStore(max_age_seconds=get_settings().secret_max_age_seconds)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
@endpoint
def lambda_handler(event: ProxyEvent, context: Any) -> dict[str, str]:
    settings = get_settings()
    return secret.read_secret(settings.require_secret_parameter_name(), _store(), reveal=settings.show_full_secret)
