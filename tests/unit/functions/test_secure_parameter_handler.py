"""Custom::SecureParameter end to end: moto for SSM/KMS, and a local HTTPS server on 127.0.0.1 that
plays CloudFormation's ResponseURL (the ``cloudformation`` fixture), so each test reads the very body
CloudFormation would get."""

import logging
import threading
import time
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.conftest import FakeLambdaContext
from tests.unit.functions.conftest import STACK, CloudFormation, handler

VALUE = "the-secret-value-that-must-never-leak-0042"
NAME = "/simple-api/dev/secret"
RESOURCE_TYPE, LOGICAL_ID = "Custom::SecureParameter", "SecretParameter"  # what the cloudformation fixture sends


@pytest.fixture
def key(aws) -> str:
    return str(boto3.client("kms").create_key()["KeyMetadata"]["Arn"])


@pytest.fixture(autouse=True)
def fresh_store():
    import functions.secure_parameter.handler as module

    module._store.cache_clear()
    yield
    if hasattr(module._store, "cache_clear"):  # a test may have replaced it
        module._store.cache_clear()


def properties(key: str, name: str = NAME, value: Any = VALUE) -> dict[str, Any]:
    found = {
        "ParameterName": name,
        "Scope": "/simple-api/dev/",
        "KeyId": key,
        "Tags": [{"Key": "project", "Value": "aws-cicd"}],
    }
    if value is not None:
        found["Value"] = value
    return found


def invoke(cloudformation: CloudFormation, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    before = len(cloudformation.answers)
    handler("secure_parameter")(event, context or FakeLambdaContext(function_name="writer"))
    assert len(cloudformation.answers) == before + 1, "CloudFormation got no answer (or more than one)"
    answer = cloudformation.answers[-1]
    assert answer["path"] == event["ResponseURL"].removeprefix(cloudformation.url)
    return dict(answer["body"])


def secret_value(name: str = NAME) -> str:
    return str(boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])


def test_create_puts_the_secure_string_and_answers_success(cloudformation, key):
    body = invoke(cloudformation, cloudformation.event("Create", properties(key)))
    assert body["Status"] == "SUCCESS", body
    assert body["PhysicalResourceId"] == NAME
    assert body["Data"] == {"Name": NAME}
    assert body["NoEcho"] is True
    assert (body["StackId"], body["LogicalResourceId"]) == (STACK, "SecretParameter")
    assert secret_value() == VALUE
    description = boto3.client("ssm").describe_parameters()["Parameters"][0]
    assert (description["Type"], description["KeyId"]) == ("SecureString", key)


def create_then_update(cloudformation: CloudFormation, key: str, **changed: Any) -> dict[str, Any]:
    """Create the parameter, then send the Update CloudFormation sends when properties change."""
    invoke(cloudformation, cloudformation.event("Create", properties(key)))
    update = cloudformation.event(
        "Update", properties(key, **changed), PhysicalResourceId=NAME, OldResourceProperties=properties(key)
    )
    return invoke(cloudformation, update)


def test_update_overwrites_in_place(cloudformation, key):
    body = create_then_update(cloudformation, key, value="rotated-value")
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", NAME)
    assert secret_value() == "rotated-value"


def test_rename_creates_a_new_parameter_under_a_new_physical_id(cloudformation, key):
    body = create_then_update(cloudformation, key, name="/simple-api/dev/renamed")
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", "/simple-api/dev/renamed")
    assert secret_value("/simple-api/dev/renamed") == VALUE
    # CloudFormation then deletes the old physical id
    body = invoke(cloudformation, cloudformation.event("Delete", properties(key), PhysicalResourceId=NAME))
    assert body["Status"] == "SUCCESS"
    names = [p["Name"] for p in boto3.client("ssm").describe_parameters()["Parameters"]]
    assert names == ["/simple-api/dev/renamed"]


def test_delete_removes_the_parameter_and_not_found_is_success(cloudformation, key):
    invoke(cloudformation, cloudformation.event("Create", properties(key)))
    for _ in range(2):
        body = invoke(cloudformation, cloudformation.event("Delete", properties(key), PhysicalResourceId=NAME))
        assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", NAME)
    assert boto3.client("ssm").describe_parameters()["Parameters"] == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"ParameterName": None}, "ParameterName"),
        ({"ParameterName": "/aws/reserved"}, "ParameterName"),
        ({"ParameterName": "/simple-api/prod/secret"}, "under /simple-api/dev/"),
        ({"Value": None}, "Value"),
        ({"KeyId": "nope"}, "KeyId"),
        ({"Tags": "x"}, "Tags"),
    ],
)
def test_bad_or_missing_properties_answer_failed(cloudformation, key, change, reason):
    wanted = {**properties(key), **change}
    body = invoke(cloudformation, cloudformation.event("Create", {k: v for k, v in wanted.items() if v is not None}))
    assert body["Status"] == "FAILED" and reason in body["Reason"]
    assert VALUE not in body["PhysicalResourceId"]


def test_unknown_request_type_answers_failed(cloudformation, key):
    body = invoke(cloudformation, cloudformation.event("Rotate", properties(key)))
    assert body["Status"] == "FAILED"


def test_missing_request_type_still_answers(cloudformation, key):
    event = cloudformation.event("Create", properties(key))
    del event["RequestType"]
    assert invoke(cloudformation, event)["Status"] == "FAILED"


def _stub(monkeypatch, code: str) -> None:
    client = boto3.client("ssm")
    stubber = Stubber(client)
    stubber.add_client_error(
        "put_parameter",
        service_error_code=code,
        service_message=f"Value '{VALUE}' at 'value' failed to satisfy constraint",
    )
    stubber.activate()
    from simple_api.adapters.ssm import SsmParameterWriter

    monkeypatch.setattr("functions.secure_parameter.handler._store", lambda: SsmParameterWriter(client))


@pytest.mark.parametrize(
    "code", ["KMSInvalidStateException", "InvalidKeyId", "ThrottlingException", "AccessDeniedException"]
)
def test_kms_and_ssm_errors_answer_failed_with_the_code_only(cloudformation, key, monkeypatch, code):
    _stub(monkeypatch, code)
    body = invoke(cloudformation, cloudformation.event("Create", properties(key)))
    assert body["Status"] == "FAILED"
    assert body["Reason"] == f"ssm put_parameter failed: {code}"


def test_answers_failed_before_the_function_times_out(cloudformation, key, monkeypatch):
    from simple_api.adapters.ssm import SsmParameterWriter

    release = threading.Event()

    class Stuck(SsmParameterWriter):
        def put(self, *args: Any, **kwargs: Any) -> None:
            release.wait(10)  # SSM never answers while the function runs out of time

    monkeypatch.setattr("functions.secure_parameter.handler._store", Stuck)
    context = FakeLambdaContext(function_name="writer")
    deadline = time.monotonic() + 1.5
    context.get_remaining_time_in_millis = lambda: max(0, int((deadline - time.monotonic()) * 1000))  # type: ignore[method-assign]
    event = cloudformation.event("Create", properties(key))
    worker = threading.Thread(target=handler("secure_parameter"), args=(event, context))
    worker.start()
    assert cloudformation.received.wait(5), "no answer before the timeout"
    assert time.monotonic() < deadline, "the answer came after the function would have been stopped"
    answer = cloudformation.answers[0]["body"]
    assert (answer["Status"], answer["Reason"]) == ("FAILED", "Execution timed out")
    release.set()
    worker.join(15)


def test_the_value_never_reaches_a_log_line_an_answer_or_an_id(cloudformation, key, monkeypatch, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    events = [
        cloudformation.event("Create", properties(key)),
        cloudformation.event(
            "Update",
            properties(key, value=VALUE + "-2"),
            PhysicalResourceId=NAME,
            OldResourceProperties=properties(key),
        ),
        cloudformation.event("Create", {**properties(key), "KeyId": "bad key"}),
        cloudformation.event("Delete", properties(key), PhysicalResourceId=NAME),
    ]
    for event in events:
        invoke(cloudformation, event)
    _stub(monkeypatch, "ValidationException")
    invoke(cloudformation, cloudformation.event("Create", properties(key)))
    captured_fd = capfd.readouterr()  # file-descriptor level: print, logging handlers, everything
    everything = (
        captured_fd.out
        + captured_fd.err
        + caplog.text
        + "".join(repr(r.__dict__) for r in caplog.records)
        + "".join(a["raw"] for a in cloudformation.answers)
    )
    assert len(cloudformation.answers) == 5
    assert VALUE not in everything
