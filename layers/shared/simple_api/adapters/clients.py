"""What every adapter needs from botocore: a client configuration that fails fast, and a short,
value-free name for a failure. botocore is imported on first use (~0.3 s), never at import."""

from typing import Any


def client_config(connect_timeout: float, read_timeout: float, max_attempts: int = 3) -> Any:
    from botocore.config import Config  # noqa: PLC0415 - deferred: see module docstring

    return Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "max_attempts": max_attempts},
    )


def error_code(error: BaseException) -> str:
    """The AWS error code of ``error`` or of what caused it (libraries such as Powertools wrap the
    SDK's error), else the exception's type name - never a message, which may quote a value."""
    for candidate in (error, error.__cause__, error.__context__):
        response = getattr(candidate, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code", type(candidate).__name__))
    return type(error.__cause__ or error.__context__ or error).__name__
