"""SSM Parameter Store: reads through Powertools parameters (decrypt + cache with a max age), and
writes for the secure_parameter custom resource.

boto3 is imported on first use, not at import: it costs ~0.35 s and only /secret needs it. The
client fails fast (short timeouts, bounded retries), so an unreachable endpoint becomes a 503
long before the function times out.
"""

import logging
from functools import cache
from typing import TYPE_CHECKING, Any

from simple_api.adapters.clients import client_config, error_code
from simple_api.errors import SecretUnavailable, UpstreamError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

#: botocore logs whole HTTP bodies at DEBUG; an SSM answer with decryption holds the secret itself.
WIRE_LOGGERS = ("botocore.parsers", "botocore.endpoint", "botocore.httpsession", "urllib3.connectionpool")
CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 3
MAX_ATTEMPTS = 3


@cache
def _quiet_wire_logs() -> None:
    """Hold botocore's wire loggers at INFO or above, once per process: even under a root logger at
    DEBUG, neither a decrypted value nor a PutParameter body reaches a log."""
    for name in WIRE_LOGGERS:
        wire = logging.getLogger(name)
        wire.setLevel(max(wire.getEffectiveLevel(), logging.INFO))


def _client_config() -> Any:
    return client_config(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS, MAX_ATTEMPTS)


class SsmSecretStore:
    def __init__(self, max_age_seconds: int, provider: "SSMProvider | None" = None) -> None:
        self._max_age = max_age_seconds
        self._provider = provider

    def _ssm(self) -> "SSMProvider":
        _quiet_wire_logs()
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SSMProvider  # noqa: PLC0415

            self._provider = SSMProvider(boto_config=_client_config())
        return self._provider

    def read(self, name: str) -> str:
        try:
            value = self._ssm().get(name, decrypt=True, max_age=self._max_age)
        except Exception as error:  # GetParameterError wraps every SDK and network failure
            raise SecretUnavailable(
                "the secret is not available", detail=f"ssm get_parameter failed: {error_code(error)}"
            ) from None
        if not isinstance(value, str):
            raise SecretUnavailable("the secret is not available", detail="ssm returned no string value")
        return value


class SsmParameterWriter:
    """Creates, overwrites, tags and deletes SecureString parameters (for the secure_parameter
    custom resource). Errors name the operation and the AWS error code, never a value."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    def _ssm(self) -> Any:
        _quiet_wire_logs()
        if self._client is None:
            import boto3  # noqa: PLC0415 - deferred: see module docstring

            self._client = boto3.client("ssm", config=_client_config())
        return self._client

    def _call(self, operation: str, **arguments: Any) -> Any:
        try:
            return getattr(self._ssm(), operation)(**arguments)
        except Exception as error:
            raise UpstreamError(f"ssm {operation} failed: {error_code(error)}") from None

    def put(self, name: str, value: str, key_id: str, tags: dict[str, str], *, overwrite: bool) -> None:
        arguments: dict[str, Any] = {
            "Name": name,
            "Value": value,
            "Type": "SecureString",
            "KeyId": key_id,
            "Overwrite": overwrite,
            "Tier": "Standard",
        }
        if not overwrite and tags:
            arguments["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        self._call("put_parameter", **arguments)
        if overwrite and tags:
            self._call(
                "add_tags_to_resource",
                ResourceType="Parameter",
                ResourceId=name,
                Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
            )

    def delete(self, name: str) -> bool:
        """Delete ``name``; False when it did not exist (already gone is not an error)."""
        try:
            self._ssm().delete_parameter(Name=name)
        except Exception as error:
            if error_code(error) == "ParameterNotFound":
                return False
            raise UpstreamError(f"ssm delete_parameter failed: {error_code(error)}") from None
        return True
