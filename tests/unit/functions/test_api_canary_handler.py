"""Custom::ApiStageCanary end to end through crhelper: the ``cloudformation`` fixture plays
CloudFormation's ResponseURL, moto holds the alarms, and API Gateway is botocore's Stubber, because
moto does not model a stage's canary settings (the emulator tier runs the same calls against a
local API Gateway: scripts/emulator_api_canary.py). The Stubber checks every call and answer
against API Gateway's service model."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from simple_api.adapters.apigateway import ApiStage
from tests.api_canary_model import quiet_alarm
from tests.conftest import FakeLambdaContext
from tests.unit.functions.conftest import CloudFormation, handler

RESOURCE_TYPE, LOGICAL_ID = "Custom::ApiStageCanary", "ApiStageCanary"  # what the cloudformation fixture sends
ALARM = "aws-cicd-prod-api-canary-5xx"
API, STAGE = "api123", "prod"
OPEN = [
    {"op": "replace", "path": "/canarySettings/percentTraffic", "value": "10"},
    {"op": "replace", "path": "/canarySettings/deploymentId", "value": "d2"},
    {"op": "replace", "path": "/canarySettings/useStageCache", "value": "false"},
]
PROMOTE = [{"op": "replace", "path": "/deploymentId", "value": "d2"}, {"op": "remove", "path": "/canarySettings"}]
CLOSE = [{"op": "remove", "path": "/canarySettings"}]


@dataclass
class LongContext(FakeLambdaContext):
    """The canary function's own limit (Timeout: 900 in template.yaml)."""

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@pytest.fixture
def apigateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.client("apigateway")
    stubber = Stubber(client)
    monkeypatch.setattr("functions.api_canary.handler.ApiStage", lambda api, stage: ApiStage(api, stage, client))
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


@pytest.fixture
def alarm(aws) -> str:
    quiet_alarm(ALARM)
    return ALARM


def properties(deployment: str = "d2", bake: str = "1") -> dict[str, Any]:
    return {
        "RestApiId": API,
        "StageName": STAGE,
        "DeploymentId": deployment,
        "PercentTraffic": "10",
        "BakeSeconds": bake,
        "Alarms": [ALARM],
        "Release": "exec-1",
    }


def expect_stage(stubber: Stubber, main: str, canary: str | None = None) -> None:
    answer: dict[str, Any] = {"stageName": STAGE, "deploymentId": main}
    if canary:
        answer["canarySettings"] = {"deploymentId": canary, "percentTraffic": 10.0, "useStageCache": False}
    stubber.add_response("get_stage", answer, {"restApiId": API, "stageName": STAGE})


def expect_made(stubber: Stubber, deployment: str, day: int) -> None:
    made = datetime(2026, 12, day, tzinfo=UTC)
    stubber.add_response(
        "get_deployment", {"id": deployment, "createdDate": made}, {"restApiId": API, "deploymentId": deployment}
    )


def expect_patch(stubber: Stubber, operations: list[dict[str, str]]) -> None:
    stubber.add_response(
        "update_stage", {"stageName": STAGE}, {"restApiId": API, "stageName": STAGE, "patchOperations": operations}
    )


def invoke(cloudformation: CloudFormation, event: dict[str, Any]) -> dict[str, Any]:
    before = len(cloudformation.answers)
    handler("api_canary")(event, LongContext(function_name="aws-cicd-prod-ApiCanaryFunction-abc"))
    assert len(cloudformation.answers) == before + 1, "CloudFormation got no answer (or more than one)"
    return dict(cloudformation.answers[-1]["body"])


def test_create_before_the_stage_exists_answers_success_with_the_deployment(cloudformation, apigateway, alarm):
    apigateway.add_client_error("get_stage", service_error_code="NotFoundException", http_status_code=404)
    body = invoke(cloudformation, cloudformation.event("Create", properties()))
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", f"{API}/{STAGE}")
    assert body["Data"] == {
        "DeploymentId": "d2",
        "Outcome": "no stage prod yet: it is created on d2",
        "Release": "exec-1",
        "CacheClusterEnabled": "false",  # the stage takes it from here, so it waits for this resource
    }


def test_a_quiet_bake_promotes_and_answers_success(cloudformation, apigateway, alarm):
    expect_stage(apigateway, "d1")
    expect_made(apigateway, "d2", 2)
    expect_made(apigateway, "d1", 1)
    expect_patch(apigateway, OPEN)
    expect_patch(apigateway, PROMOTE)
    body = invoke(cloudformation, cloudformation.event("Update", properties(), PhysicalResourceId=f"{API}/{STAGE}"))
    assert body["Status"] == "SUCCESS", body
    assert body["Data"]["DeploymentId"] == "d2"
    assert body["Data"]["Outcome"] == f"promoted d2 (replacing d1) after 1 s at 10 % with {ALARM} quiet"


def test_an_alarm_during_the_bake_rolls_back_and_answers_failed_with_the_reason(cloudformation, apigateway, alarm):
    def fire_once_the_canary_is_open(**_: Any) -> None:
        boto3.client("cloudwatch").set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="1 datapoint >= 1")

    apigateway.client.meta.events.register_first("after-call.apigateway.UpdateStage", fire_once_the_canary_is_open)
    expect_stage(apigateway, "d1")
    expect_made(apigateway, "d2", 2)
    expect_made(apigateway, "d1", 1)
    expect_patch(apigateway, OPEN)
    expect_patch(apigateway, CLOSE)
    body = invoke(cloudformation, cloudformation.event("Update", properties(bake="60")))
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith(f"rolled back: {ALARM} in ALARM after 0 s of 60 s (1 datapoint >= 1)")
    assert body["Reason"].endswith("stage prod stays on d1")


def test_a_second_release_while_a_canary_is_open_answers_failed(cloudformation, apigateway, alarm):
    expect_stage(apigateway, "d1", canary="d2")
    body = invoke(cloudformation, cloudformation.event("Update", properties("d3")))
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("a canary of deployment d2 is open on stage prod: refusing to stack another (d3)")
    assert len(body["Reason"]) <= 256


def test_delete_closes_an_open_canary(cloudformation, apigateway, alarm):
    expect_stage(apigateway, "d1", canary="d2")
    expect_patch(apigateway, CLOSE)
    body = invoke(cloudformation, cloudformation.event("Delete", properties(), PhysicalResourceId=f"{API}/{STAGE}"))
    assert body["Status"] == "SUCCESS"


@pytest.mark.parametrize(
    ("code", "status"), [("AccessDeniedException", "SUCCESS"), ("TooManyRequestsException", "FAILED")]
)
def test_delete_tolerates_only_a_rest_api_it_may_no_longer_touch(cloudformation, apigateway, alarm, code, status):
    apigateway.add_client_error("get_stage", service_error_code=code, http_status_code=403)
    body = invoke(cloudformation, cloudformation.event("Delete", properties(), PhysicalResourceId=f"{API}/{STAGE}"))
    assert body["Status"] == status


def test_delete_of_a_create_that_had_bad_properties_succeeds(cloudformation, apigateway, alarm):
    body = invoke(cloudformation, cloudformation.event("Delete", {"RestApiId": API}, PhysicalResourceId="x"))
    assert body["Status"] == "SUCCESS"


@pytest.mark.parametrize("bad", [{"BakeSeconds": "0"}, {"PercentTraffic": "x"}, {"Alarms": []}])
def test_bad_properties_answer_failed(cloudformation, apigateway, alarm, bad):
    body = invoke(cloudformation, cloudformation.event("Create", {**properties(), **bad}))
    assert body["Status"] == "FAILED" and any(name in body["Reason"] for name in bad)
