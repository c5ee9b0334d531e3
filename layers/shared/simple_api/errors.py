"""Domain errors. Each carries a stable ``code`` (goes into the JSON body) and a public message.

The HTTP status of each class is decided in one place only: ``simple_api.http.STATUS_BY_ERROR``.
Messages are shown to callers, so they never contain a secret or an internal detail; what
operators need goes into ``detail`` and is logged, never returned.
"""

from typing import ClassVar


class DomainError(Exception):
    """Base for every error simple_api raises on purpose."""

    code: ClassVar[str] = "DomainError"
    #: name of the custom metric emitted when this error reaches a caller (None: no metric)
    metric: ClassVar[str | None] = None

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class InvalidInput(DomainError):
    """The request itself is wrong (e.g. ``/sleep/hello``)."""

    code = "InvalidInput"
    metric = "InvalidInput"


class SecretUnavailable(DomainError):
    """The secret parameter is missing, cannot be decrypted, or its store cannot be reached."""

    code = "SecretUnavailable"
    metric = "SecretUnavailable"


class ConfigurationError(DomainError):
    """The deployment is misconfigured (a required setting is missing or malformed)."""

    code = "ConfigurationError"
    metric = "ConfigurationError"


class UpstreamError(DomainError):
    """An AWS call this service depends on failed (the message names the call and error code only)."""

    code = "UpstreamError"
    metric = "UpstreamError"
