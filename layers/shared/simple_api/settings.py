"""Settings, read from the environment once per container (on first use, never at import).

Tests and the local host call ``get_settings.cache_clear()`` after changing the environment.
A NamedTuple, not a dataclass: importing ``dataclasses`` was 5 ms (7 %) of the /sleep and /secret
cold import, and nothing else a handler loads needs it (docs/decisions.md).
"""

import math
import os
from collections.abc import Mapping
from functools import cache
from typing import NamedTuple

from simple_api.errors import ConfigurationError

#: API Gateway's integration timeout is 29 s; the maximum sleep must stay below it.
API_GATEWAY_LIMIT_SECONDS = 29.0
DEFAULT_MAX_SLEEP_SECONDS = 25.0
DEFAULT_SECRET_MAX_AGE_SECONDS = 300


class Settings(NamedTuple):
    max_sleep_seconds: float = DEFAULT_MAX_SLEEP_SECONDS
    secret_parameter_name: str | None = None
    secret_max_age_seconds: int = DEFAULT_SECRET_MAX_AGE_SECONDS
    #: show the whole secret instead of the masked value (a workshop opt-in, off by default)
    show_full_secret: bool = False
    #: the PreTraffic hook's targets: ``function=version-arn`` pairs separated by commas
    pre_traffic_targets: str | None = None
    #: the PostTraffic hook's: the same pairs (the new versions), checked through ``traffic_alias``
    post_traffic_targets: str | None = None
    traffic_alias: str = "live"

    def require_secret_parameter_name(self) -> str:
        if not self.secret_parameter_name:
            raise ConfigurationError("the service is not configured", detail="SECRET_PARAMETER_NAME is not set")
        return self.secret_parameter_name


def _number(environ: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigurationError(
            "the service is not configured", detail=f"{name} must be a number from {low:g} to {high:g}"
        )
    return value


def _flag(environ: Mapping[str, str], name: str) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    raise ConfigurationError("the service is not configured", detail=f"{name} must be true or false")


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build Settings from an environment mapping; raise ConfigurationError on malformed values."""
    return Settings(
        max_sleep_seconds=_number(
            environ, "MAX_SLEEP_SECONDS", DEFAULT_MAX_SLEEP_SECONDS, 0.0, API_GATEWAY_LIMIT_SECONDS - 1
        ),
        secret_parameter_name=environ.get("SECRET_PARAMETER_NAME", "").strip() or None,
        secret_max_age_seconds=int(
            _number(environ, "SECRET_MAX_AGE_SECONDS", DEFAULT_SECRET_MAX_AGE_SECONDS, 0, 86_400)
        ),
        show_full_secret=_flag(environ, "SHOW_FULL_SECRET"),
        pre_traffic_targets=environ.get("PRE_TRAFFIC_TARGETS") or None,
        post_traffic_targets=environ.get("POST_TRAFFIC_TARGETS") or None,
        traffic_alias=environ.get("TRAFFIC_ALIAS", "").strip() or "live",
    )


@cache
def get_settings() -> Settings:
    """The container's settings, read on first call and kept while the container lives."""
    return load_settings(os.environ)
