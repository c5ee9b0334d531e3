"""The PostTraffic hook: once the alias carries all traffic, the fixtures go through the alias, each
answer must come from the new version, and the hook always reports to CodeDeploy."""

import io
import json
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from simple_api.adapters.deployment import LambdaInvoker
from tests.unit.functions.conftest import expect_report, handler

HOOK = "post_traffic"  # the codedeploy fixture (conftest.py) stubs this hook's reports
HOOK_EVENT = {"DeploymentId": "d-POST12345", "LifecycleEventHookExecutionId": "eyJleGVjdXRpb24iOiJwb3N0In0="}
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:aws-cicd-dev-{}Function-x"
NAMES = ("home", "healthcheck", "sleep", "secret")
TARGETS = ",".join(f"{name}={FUNCTION.format(name.title())}:7" for name in NAMES)


class AliasLambda:
    """Stands in for the Lambda client behind the real LambdaInvoker: runs our real handlers and
    says which version ran (``serving``), optionally breaking one function."""

    def __init__(self, context: Any, serving: str = "7", broken: str | None = None) -> None:
        self.context, self.serving, self.broken, self.calls = context, serving, broken, []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        name = next(n for n in NAMES if f"{n.title()}Function" in FunctionName)
        event = json.loads(Payload)
        self.calls.append((FunctionName, event))
        answer = {"statusCode": 500, "body": "{}"} if name == self.broken else handler(name)(event, self.context)
        raw = json.dumps(answer).encode()
        return {"StatusCode": 200, "ExecutedVersion": self.serving, "Payload": StreamingBody(io.BytesIO(raw), len(raw))}


def run_hook(monkeypatch, fake, targets=TARGETS):
    from tests.conftest import FakeLambdaContext

    monkeypatch.setenv("POST_TRAFFIC_TARGETS", targets)
    monkeypatch.setenv("TRAFFIC_ALIAS", "live")
    monkeypatch.setattr("functions.post_traffic.handler.LambdaInvoker", lambda: LambdaInvoker(client=fake))
    return handler("post_traffic")(HOOK_EVENT, FakeLambdaContext(function_name="aws-cicd-dev-PostTrafficFunction-x"))


def test_the_new_version_serving_through_the_alias_succeeds(monkeypatch, codedeploy, lambda_context, secret, no_sleep):
    expect_report(codedeploy, HOOK_EVENT, "Succeeded")
    fake = AliasLambda(lambda_context)
    assert run_hook(monkeypatch, fake) == {"succeeded": True, "problems": []}
    assert {arn for arn, _ in fake.calls} == {f"{FUNCTION.format(n.title())}:live" for n in NAMES}
    assert {event["path"] for _, event in fake.calls} >= {"/", "/healthcheck", "/sleep/1", "/sleep/hello", "/secret"}
    assert all(event["requestContext"]["synthetic"] == "post-traffic" for _, event in fake.calls)


def test_a_broken_answer_fails_the_deployment(monkeypatch, codedeploy, lambda_context, secret, no_sleep):
    expect_report(codedeploy, HOOK_EVENT, "Failed")
    result = run_hook(monkeypatch, AliasLambda(lambda_context, broken="sleep"))
    assert result["succeeded"] is False
    assert result["problems"] and all(problem.startswith("sleep_") for problem in result["problems"])


def test_an_alias_still_serving_the_old_version_fails_the_deployment(
    monkeypatch, codedeploy, lambda_context, secret, no_sleep
):
    expect_report(codedeploy, HOOK_EVENT, "Failed")
    result = run_hook(monkeypatch, AliasLambda(lambda_context, serving="6"))
    assert result["succeeded"] is False
    assert all("the alias answered with version 6, not the new version 7" in p for p in result["problems"])


def test_a_fixture_the_function_answers_differently_fails_it(monkeypatch, codedeploy, lambda_context, secret, no_sleep):
    expect_report(codedeploy, HOOK_EVENT, "Failed")
    monkeypatch.setenv("MAX_SLEEP_SECONDS", "0.5")  # the new configuration refuses /sleep/1
    result = run_hook(monkeypatch, AliasLambda(lambda_context))
    assert "sleep_ok.json: status 400, expected 200" in result["problems"]


@pytest.mark.parametrize("targets", ["", "home", "home=arn:aws:lambda:us-east-1:1:function:f:$LATEST", "=arn"])
def test_unusable_configuration_still_reports_failure(monkeypatch, codedeploy, lambda_context, targets):
    expect_report(codedeploy, HOOK_EVENT, "Failed")
    result = run_hook(monkeypatch, AliasLambda(lambda_context), targets=targets)
    assert result["succeeded"] is False and result["problems"]


def test_lambda_invoker_checks_the_version_the_alias_ran():
    client = boto3.client("lambda")
    raw = json.dumps({"statusCode": 200}).encode()
    with Stubber(client) as stubber:
        stubber.add_response(
            "invoke",
            {"StatusCode": 200, "ExecutedVersion": "3", "Payload": StreamingBody(io.BytesIO(raw), len(raw))},
            {"FunctionName": "arn:fn:live", "InvocationType": "RequestResponse", "Payload": ANY},
        )
        with pytest.raises(Exception, match="answered with version 3, not the new version 4"):
            LambdaInvoker(client).invoke_alias("arn:fn:live", {"path": "/"}, "4")
