from tests.conftest import emitted_metrics, output_records
from tests.factories import load_event
from tests.unit.functions.conftest import handler


def test_home_welcomes_as_text(lambda_context):
    answer = handler("home")(load_event("home_get.json"), lambda_context)
    assert answer["statusCode"] == 200
    assert answer["body"] == "Welcome to my home"
    assert answer["headers"]["Content-Type"].startswith("text/plain")


def test_cold_start_metric_once_per_container(lambda_context, capsys):
    home = handler("home")
    home(load_event("home_get.json"), lambda_context)
    first = emitted_metrics(capsys.readouterr().out)
    home(load_event("home_get.json"), lambda_context)
    second = emitted_metrics(capsys.readouterr().out)
    assert first["ColdStart"]["namespace"] == "AwsCicd"
    assert first["ColdStart"]["record"]["service"] == "simple-api"
    assert "ColdStart" not in second


def test_logs_carry_the_api_gateway_request_id_as_correlation_id(lambda_context, capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    from simple_api.observability import logger

    logger.setLevel("DEBUG")
    try:
        handler("home")(load_event("home_get.json"), lambda_context)
        logger.debug("probe")
    finally:
        logger.setLevel("INFO")
    logs = [r for r in output_records(capsys.readouterr().out) if "level" in r]
    assert logs, "the handler printed no structured log"
    assert {r.get("correlation_id") for r in logs} == {load_event("home_get.json")["requestContext"]["requestId"]}
