"""The PreTraffic hook: runs the fixtures against each new version and always reports to CodeDeploy."""

import io
import json
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from simple_api.adapters.deployment import LambdaInvoker
from tests.unit.functions.conftest import expect_report, handler

HOOK = "pre_traffic"  # the codedeploy fixture (conftest.py) stubs this hook's reports
HOOK_EVENT = {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "eyJleGVjdXRpb24iOiJ4In0="}
ARN = "arn:aws:lambda:us-east-1:123456789012:function:aws-cicd-dev-{}Function-x:7"
TARGETS = ",".join(f"{name}={ARN.format(name.title())}" for name in ("home", "healthcheck", "sleep", "secret"))


class InProcessLambda:
    """Stands in for lambda:Invoke: runs our real handlers, optionally breaking one of them."""

    def __init__(self, context: Any, broken: str | None = None) -> None:
        self.context, self.broken, self.calls = context, broken, []

    def invoke(self, arn: str, event: dict[str, Any]) -> dict[str, Any]:
        name = next(n for n in ("healthcheck", "home", "sleep", "secret") if f"{n.title()}Function" in arn)
        self.calls.append((arn, event["path"]))
        if name == self.broken:
            return {"statusCode": 500, "body": "{}"}
        return handler(name)(event, self.context)


def run_hook(monkeypatch, fake, targets=TARGETS):
    from tests.conftest import FakeLambdaContext

    monkeypatch.setenv("PRE_TRAFFIC_TARGETS", targets)
    monkeypatch.setattr("functions.pre_traffic.handler.LambdaInvoker", lambda: fake)
    return handler("pre_traffic")(HOOK_EVENT, FakeLambdaContext(function_name="aws-cicd-dev-PreTrafficFunction-x"))


def test_healthy_versions_succeed(monkeypatch, codedeploy, lambda_context, secret, no_sleep):
    expect_report(codedeploy, HOOK_EVENT, "Succeeded")
    fake = InProcessLambda(lambda_context)
    assert run_hook(monkeypatch, fake) == {"succeeded": True, "problems": []}
    invoked = {path for _, path in fake.calls}
    assert {"/", "/healthcheck", "/sleep/1", "/sleep/hello", "/secret"} <= invoked
    assert "/secret" in invoked and len([p for _, p in fake.calls if p == "/secret"]) == 1  # not the no-secret case


def test_a_broken_version_fails_the_deployment(monkeypatch, codedeploy, lambda_context, secret, no_sleep):
    expect_report(codedeploy, HOOK_EVENT, "Failed")
    result = run_hook(monkeypatch, InProcessLambda(lambda_context, broken="sleep"))
    assert result["succeeded"] is False
    assert all(problem.startswith("sleep_") for problem in result["problems"])


def test_missing_secret_in_the_environment_fails_the_deployment(monkeypatch, codedeploy, lambda_context, aws, no_sleep):
    expect_report(codedeploy, HOOK_EVENT, "Failed")
    result = run_hook(monkeypatch, InProcessLambda(lambda_context))
    assert result["problems"] == ["secret_get.json: status 503, expected 200"]


@pytest.mark.parametrize("targets", ["", "home", "home=,sleep=x", "=arn"])
def test_unusable_configuration_still_reports_failure(monkeypatch, codedeploy, lambda_context, targets):
    expect_report(codedeploy, HOOK_EVENT, "Failed")
    result = run_hook(monkeypatch, InProcessLambda(lambda_context), targets=targets)
    assert result["succeeded"] is False and result["problems"]


def test_a_target_without_fixtures_is_a_problem(monkeypatch, codedeploy, lambda_context, no_sleep):
    expect_report(codedeploy, HOOK_EVENT, "Failed")
    result = run_hook(monkeypatch, InProcessLambda(lambda_context), targets="home=" + ARN.format("Home") + ",extra=x")
    assert result["problems"] == ["extra: no fixture to test it with"]


def test_invocation_errors_are_reported_not_raised(monkeypatch, codedeploy):
    class Unreachable:
        def invoke(self, arn, event):
            raise ConnectionError("no route")

    expect_report(codedeploy, HOOK_EVENT, "Failed")
    result = run_hook(monkeypatch, Unreachable())
    assert result["succeeded"] is False
    assert all("invocation failed (ConnectionError)" in problem for problem in result["problems"])


def _payload(document: Any) -> StreamingBody:
    raw = json.dumps(document).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_lambda_invoker_sends_the_event_and_decodes_the_answer():
    client = boto3.client("lambda")
    with Stubber(client) as stubber:
        stubber.add_response(
            "invoke",
            {"StatusCode": 200, "Payload": _payload({"statusCode": 200})},
            {"FunctionName": "arn:fn:7", "InvocationType": "RequestResponse", "Payload": ANY},
        )
        assert LambdaInvoker(client).invoke("arn:fn:7", {"path": "/"}) == {"statusCode": 200}


def test_lambda_invoker_raises_on_function_errors():
    client = boto3.client("lambda")
    with Stubber(client) as stubber:
        stubber.add_response(
            "invoke", {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": _payload({"errorMessage": "boom"})}
        )
        with pytest.raises(Exception, match="the function failed"):
            LambdaInvoker(client).invoke("arn:fn:7", {})
