import json
import logging

import pytest

from simple_api.services.secret import MASK
from tests.conftest import SECRET_NAME, emitted_metrics, output_records
from tests.factories import load_event
from tests.unit.functions.conftest import handler


def test_returns_name_and_masked_value(lambda_context, secret):
    answer = handler("secret")(load_event("secret_get.json"), lambda_context)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {"Name": SECRET_NAME, "Value": MASK + secret[-2:]}


def test_missing_parameter_is_503_json_without_detail(lambda_context, aws, capsys):
    answer = handler("secret")(load_event("secret_missing.json"), lambda_context)
    assert answer["statusCode"] == 503
    assert json.loads(answer["body"]) == {"error": "SecretUnavailable", "message": "the secret is not available"}
    out = capsys.readouterr().out
    assert "SecretUnavailable" in emitted_metrics(out)
    assert "Fault" in emitted_metrics(out)
    errors = [r for r in output_records(out) if r.get("level") == "ERROR"]
    assert errors and errors[0]["detail"] == "ssm get_parameter failed: ParameterNotFound"


def test_unconfigured_secret_name_is_a_clean_500(lambda_context, aws, monkeypatch):
    monkeypatch.delenv("SECRET_PARAMETER_NAME")
    answer = handler("secret")(load_event("secret_get.json"), lambda_context)
    assert answer["statusCode"] == 500
    assert json.loads(answer["body"])["error"] == "ConfigurationError"


def test_unreachable_ssm_is_a_503(lambda_context, secret, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    answer = handler("secret")(load_event("secret_get.json"), lambda_context)
    assert answer["statusCode"] == 503


def test_the_value_is_read_once_then_served_from_cache(lambda_context, secret, aws):
    first = handler("secret")(load_event("secret_get.json"), lambda_context)
    aws["ssm"].delete_parameter(Name=SECRET_NAME)
    second = handler("secret")(load_event("secret_get.json"), lambda_context)
    assert first["body"] == second["body"]


@pytest.mark.parametrize("fixture", ["secret_get.json", "secret_missing.json"])
def test_the_secret_never_reaches_a_log_line_or_metric(fixture, lambda_context, secret, aws, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    from simple_api.observability import logger

    logger.setLevel("DEBUG")
    try:
        if fixture == "secret_missing.json":
            aws["ssm"].delete_parameter(Name=SECRET_NAME)
        answer = handler("secret")(load_event(fixture), lambda_context)
    finally:
        logger.setLevel("INFO")
    captured = capsys.readouterr()
    everything = captured.out + captured.err + caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert secret not in everything
    assert secret not in answer["body"]
    assert secret[:-2] not in answer["body"]


def test_the_whole_value_only_with_the_explicit_opt_in(lambda_context, secret, monkeypatch):
    monkeypatch.setenv("SHOW_FULL_SECRET", "true")
    answer = handler("secret")(load_event("secret_get.json"), lambda_context)
    assert json.loads(answer["body"]) == {"Name": SECRET_NAME, "Value": secret}


@pytest.mark.parametrize("flag", ["maybe", "2", "on"])
def test_an_unclear_opt_in_is_a_configuration_error_not_a_reveal(lambda_context, secret, monkeypatch, flag):
    monkeypatch.setenv("SHOW_FULL_SECRET", flag)
    answer = handler("secret")(load_event("secret_get.json"), lambda_context)
    assert answer["statusCode"] == 500 and secret not in answer["body"]


@pytest.mark.parametrize(
    "code",
    [
        "InvalidCiphertextException",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "ThrottlingException",
        "AccessDeniedException",
    ],
)
def test_undecryptable_or_throttled_is_a_503_without_detail(lambda_context, aws, monkeypatch, code):
    import boto3
    from aws_lambda_powertools.utilities.parameters import SSMProvider
    from botocore.stub import Stubber

    from simple_api.adapters.ssm import SsmSecretStore

    client = boto3.client("ssm")
    stubber = Stubber(client)
    stubber.add_client_error("get_parameter", service_error_code=code, service_message="key detail here")
    stubber.activate()
    monkeypatch.setattr(
        "functions.secret.handler._store", lambda: SsmSecretStore(60, provider=SSMProvider(boto3_client=client))
    )
    answer = handler("secret")(load_event("secret_get.json"), lambda_context)
    assert answer["statusCode"] == 503
    assert json.loads(answer["body"]) == {"error": "SecretUnavailable", "message": "the secret is not available"}
    assert code not in answer["body"] and "detail" not in answer["body"]
