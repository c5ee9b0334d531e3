import json

import pytest

from tests.conftest import emitted_metrics
from tests.factories import sleep_event
from tests.unit.functions.conftest import handler


@pytest.mark.parametrize("raw", ["20", "1.5", "0", "2e1", "+3"])
def test_sleeps_and_echoes_the_value_as_given(raw, lambda_context, no_sleep):
    answer = handler("sleep")(sleep_event(raw), lambda_context)
    assert (answer["statusCode"], answer["body"]) == (200, f"sleep for {raw} secs")
    assert no_sleep == [float(raw)]


@pytest.mark.parametrize("raw", ["hello", "-1", "1e9", "nan", "inf", "26", "", None, "0x1", "1_0", " 1"])
def test_bad_input_is_400_json_naming_parameter_and_range_and_counted(raw, lambda_context, no_sleep, capsys):
    answer = handler("sleep")(sleep_event(raw), lambda_context)
    body = json.loads(answer["body"])
    assert answer["statusCode"] == 400
    assert answer["headers"]["Content-Type"] == "application/json"
    assert body["error"] == "InvalidInput"
    assert "seconds" in body["message"] and "0 to 25" in body["message"]
    assert no_sleep == []
    invalid = emitted_metrics(capsys.readouterr().out)["InvalidInput"]
    assert invalid["namespace"] == "AwsCicd" and invalid["dimensions"] == [["environment", "runtime", "service"]]


def test_maximum_comes_from_the_environment(lambda_context, no_sleep, monkeypatch):
    monkeypatch.setenv("MAX_SLEEP_SECONDS", "2")
    assert handler("sleep")(sleep_event("3"), lambda_context)["statusCode"] == 400
    assert handler("sleep")(sleep_event("2"), lambda_context)["statusCode"] == 200


def test_misconfigured_maximum_is_a_clean_500(lambda_context, no_sleep, monkeypatch):
    monkeypatch.setenv("MAX_SLEEP_SECONDS", "forever")
    answer = handler("sleep")(sleep_event("1"), lambda_context)
    assert answer["statusCode"] == 500
    assert json.loads(answer["body"]) == {"error": "ConfigurationError", "message": "the service is not configured"}
