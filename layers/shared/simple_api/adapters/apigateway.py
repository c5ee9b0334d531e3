"""API Gateway (one REST API stage's deployments and canary settings) and CloudWatch (alarm states)
for the API stage canary (simple_api.services.api_canary).

Every stage change is one UpdateStage call with the documented patch paths: opening sets
``/canarySettings/*``; promoting replaces ``/deploymentId`` with the canary's deployment and
removes ``/canarySettings`` (API Gateway lets a stage with canary settings move only to the
canary's deployment); closing removes ``/canarySettings``. (API Gateway developer guide:
create-canary-deployment, promote-canary-deployment, delete-canary-deployment.)
"""

from collections.abc import Sequence
from typing import Any

from simple_api.adapters.clients import client_config
from simple_api.services.api_canary import Firing, StageState


def _config() -> Any:
    return client_config(connect_timeout=3, read_timeout=20, max_attempts=5)


def _apigateway() -> Any:
    import boto3  # noqa: PLC0415 - deferred: boto3 costs ~0.35 s of import

    return boto3.client("apigateway", config=_config())


def _cloudwatch() -> Any:
    import boto3  # noqa: PLC0415

    return boto3.client("cloudwatch", config=_config())


class ApiStage:
    def __init__(self, rest_api_id: str, stage: str, client: Any = None) -> None:
        self._api = rest_api_id
        self._stage = stage
        self._client_instance = client

    @property
    def _client(self) -> Any:
        if self._client_instance is None:
            self._client_instance = _apigateway()
        return self._client_instance

    def read(self) -> StageState | None:
        try:
            found = self._client.get_stage(restApiId=self._api, stageName=self._stage)
        except self._client.exceptions.NotFoundException:
            return None
        canary = found.get("canarySettings") or None
        return StageState(
            deployment_id=str(found["deploymentId"]),
            canary_deployment_id=str(canary["deploymentId"]) if canary and canary.get("deploymentId") else None,
            canary_percent=float(canary.get("percentTraffic", 0.0)) if canary else 0.0,
        )

    def created(self, deployment_id: str) -> float:
        found = self._client.get_deployment(restApiId=self._api, deploymentId=deployment_id)
        return float(found["createdDate"].timestamp())

    def open_canary(self, deployment_id: str, percent: float) -> None:
        self._patch(
            {"op": "replace", "path": "/canarySettings/percentTraffic", "value": f"{percent:g}"},
            {"op": "replace", "path": "/canarySettings/deploymentId", "value": deployment_id},
            {"op": "replace", "path": "/canarySettings/useStageCache", "value": "false"},
        )

    def promote(self, deployment_id: str) -> None:
        self._patch(
            {"op": "replace", "path": "/deploymentId", "value": deployment_id},
            {"op": "remove", "path": "/canarySettings"},
        )

    def restore(self, deployment_id: str) -> None:
        # the canary settings go first: a stage with them may move to the canary's deployment only
        self._patch(
            {"op": "remove", "path": "/canarySettings"},
            {"op": "replace", "path": "/deploymentId", "value": deployment_id},
        )

    def close_canary(self) -> None:
        self._patch({"op": "remove", "path": "/canarySettings"})

    def _patch(self, *operations: dict[str, str]) -> None:
        self._client.update_stage(restApiId=self._api, stageName=self._stage, patchOperations=list(operations))


class CloudWatchAlarms:
    def __init__(self, client: Any = None) -> None:
        self._client_instance = client

    def firing(self, names: Sequence[str]) -> list[Firing]:
        if self._client_instance is None:
            self._client_instance = _cloudwatch()
        found = self._client_instance.describe_alarms(AlarmNames=list(names))
        alarms = [*found.get("MetricAlarms", []), *found.get("CompositeAlarms", [])]
        return [
            Firing(str(a["AlarmName"]), str(a.get("StateReason", ""))) for a in alarms if a["StateValue"] == "ALARM"
        ]
