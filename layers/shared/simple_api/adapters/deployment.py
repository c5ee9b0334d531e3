"""AWS Lambda (invoke a version or an alias) and CodeDeploy (report a lifecycle hook) for the hooks."""

import json
from collections.abc import Mapping
from typing import Any

from simple_api.adapters.clients import client_config
from simple_api.errors import DomainError


class InvocationFailed(DomainError):
    code = "InvocationFailed"


def _config() -> Any:
    return client_config(connect_timeout=3, read_timeout=30)


class LambdaInvoker:
    def __init__(self, client: Any = None) -> None:
        self._client = client

    def invoke(self, function_arn: str, event: Mapping[str, Any]) -> Mapping[str, Any]:
        """Invoke ``function_arn`` synchronously; return its decoded proxy response."""
        return self._answer(function_arn, event)[0]

    def invoke_alias(self, alias_arn: str, event: Mapping[str, Any], version: str) -> Mapping[str, Any]:
        """Invoke ``alias_arn``; the answer must come from ``version`` (Lambda says which ran)."""
        payload, executed = self._answer(alias_arn, event)
        if executed != version:
            raise InvocationFailed(f"the alias answered with version {executed}, not the new version {version}")
        return payload

    def _answer(self, function_arn: str, event: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
        if self._client is None:
            import boto3  # noqa: PLC0415 - deferred: boto3 costs ~0.35 s of import

            self._client = boto3.client("lambda", config=_config())
        answer = self._client.invoke(
            FunctionName=function_arn, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError") or not isinstance(payload, dict):
            raise InvocationFailed("the function failed", detail=str(answer.get("FunctionError")))
        return payload, str(answer.get("ExecutedVersion", ""))


class CodeDeployHooks:
    def __init__(self, client: Any = None) -> None:
        self._client = client

    def report(self, deployment_id: str, execution_id: str, *, succeeded: bool) -> None:
        if self._client is None:
            import boto3  # noqa: PLC0415

            self._client = boto3.client("codedeploy", config=_config())
        self._client.put_lifecycle_event_hook_execution_status(
            deploymentId=deployment_id,
            lifecycleEventHookExecutionId=execution_id,
            status="Succeeded" if succeeded else "Failed",
        )
