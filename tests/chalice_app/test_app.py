"""The Chalice flavour answers like the SAM functions: the events/ table through chalice.test's client
and through the function itself (what the PreTraffic hook invokes), the same errors, logs and metrics."""

import json
import logging

import pytest
from chalice.test import Client

from chalice_app.app import app
from host.template import read_api
from simple_api.services import smoke
from tests.conftest import SECRET_NAME, emitted_metrics, output_records
from tests.factories import EVENTS, ROOT, load_event, sleep_event
from tests.templates.conftest import load_template

CASES = smoke.load_cases(EVENTS)


def as_proxy(reply) -> dict[str, object]:
    return {"statusCode": reply.status_code, "body": reply.body.decode(), "headers": reply.headers}


def test_the_routes_are_template_yamls_routes():
    """One route table: the Chalice app may serve exactly what template.yaml's API serves."""
    chalice = {(method, path) for path, methods in app.routes.items() for method in methods}
    assert chalice == {(route.method, route.path) for route in read_api(ROOT / "template.yaml").routes}


@pytest.mark.parametrize("case", CASES, ids=[case.fixture for case in CASES])
def test_every_fixture_answers_as_documented_through_the_test_client(case, client: Client, request, no_sleep):
    request.getfixturevalue("secret" if case.needs == "secret" else "aws")
    reply = client.http.request(case.event["httpMethod"], case.event["path"], headers=case.event["headers"])
    assert smoke.problem(case, as_proxy(reply)) is None, reply.body


@pytest.mark.parametrize("case", CASES, ids=[case.fixture for case in CASES])
def test_every_fixture_answers_as_documented_when_invoked_as_the_hook_does(case, lambda_context, request, no_sleep):
    """The PreTraffic hook invokes the new version with the raw fixture events: Chalice routes them too."""
    request.getfixturevalue("secret" if case.needs == "secret" else "aws")
    answer = app(json.loads(json.dumps(case.event)), lambda_context)
    assert smoke.problem(case, answer) is None, answer


def test_the_secret_is_masked_and_never_logged(client: Client, secret, capsys):
    reply = client.http.get("/secret")
    assert reply.json_body == {"Name": SECRET_NAME, "Value": "********" + secret[-2:]}
    assert secret[:-2] not in capsys.readouterr().out


def test_text_and_json_content_types_are_the_sam_functions(client: Client, aws, no_sleep):
    assert client.http.get("/").headers["Content-Type"] == "text/plain; charset=utf-8"
    assert client.http.get("/sleep/hello").headers["Content-Type"] == "application/json"


def test_a_method_no_route_has_is_405_in_the_api_error_shape(client: Client):
    reply = client.http.post("/healthcheck")
    assert reply.status_code == 405
    assert reply.json_body == {"error": "MethodNotAllowedError", "message": "Unsupported method: POST"}


def test_logs_carry_the_api_gateway_request_id_and_metrics_the_cold_start(lambda_context, no_sleep, capsys):
    event = load_event("sleep_hello.json")
    app(event, lambda_context)
    out = capsys.readouterr().out
    logged = [r for r in output_records(out) if r.get("message") == "request failed"]
    assert logged and logged[0]["correlation_id"] == event["requestContext"]["requestId"]
    assert logged[0]["function_name"] == lambda_context.function_name
    emitted = emitted_metrics(out)
    assert {"ColdStart", "InvalidInput"} <= set(emitted)
    app(event, lambda_context)
    assert "ColdStart" not in emitted_metrics(capsys.readouterr().out)


def test_a_fault_is_a_clean_500_counted_for_the_version_the_alarm_watches(lambda_context, monkeypatch, capsys):
    monkeypatch.setenv("MAX_SLEEP_SECONDS", "broken")
    answer = app(sleep_event("1"), lambda_context)
    assert answer["statusCode"] == 500
    assert json.loads(answer["body"]) == {"error": "ConfigurationError", "message": "the service is not configured"}
    out = capsys.readouterr().out
    assert "Traceback" not in answer["body"]
    fault = emitted_metrics(out)["Fault"]
    assert fault["record"]["function_version"] == lambda_context.function_version
    alarm = load_template(".aws-sam/chalice/package/template.yaml")["Resources"]["APIHandlerErrorsAlarm"]
    (watched,) = [m["MetricStat"]["Metric"] for m in alarm["Properties"]["Metrics"] if m["Id"] == "faults"]
    assert (watched["Namespace"], watched["MetricName"]) == (fault["namespace"], "Fault")
    assert [sorted(d["Name"] for d in watched["Dimensions"])] == [sorted(d) for d in fault["dimensions"]]
    assert any(r.get("level") == "ERROR" for r in output_records(out))


def test_an_unexpected_exception_is_a_bare_500(client: Client, monkeypatch):
    def broken() -> str:
        raise RuntimeError("internal detail /etc/secret")

    monkeypatch.setattr("simple_api.services.welcome.welcome", broken)
    reply = client.http.get("/")
    assert reply.status_code == 500
    assert reply.json_body == {"error": "InternalError", "message": "internal error"}


def test_chalice_leaves_the_powertools_logger_alone():
    """Chalice's app name is the Powertools service name, so both would use one stdlib logger."""
    from simple_api.observability import logger

    stdlib = logging.getLogger("simple-api")
    assert app.configure_logs is False
    assert stdlib.handlers == [logger.registered_handler]
    assert stdlib.getEffectiveLevel() == logging.INFO
