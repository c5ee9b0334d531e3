"""Routing, errors and environment of the host, answered the way API Gateway answers."""

import json
import threading
import time
from pathlib import Path

import pytest

from host.app import EnvironmentConflict, Host, function_environment, read_env_file
from host.template import read_api
from tests.conftest import output_records
from tests.factories import ROOT
from tests.host.conftest import call


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("POST", "/healthcheck"),
        ("DELETE", "/"),
        ("GET", "/healthcheck/"),
        ("GET", "/sleep/"),
        ("GET", "/sleep/1/2"),
        ("HEAD", "/secret"),
        ("GET", "//"),
        ("GET", "/SECRET"),
    ],
)
def test_unknown_routes_and_methods_answer_like_api_gateway(app, method, path):
    answer = call(app, method, path)
    assert answer.status == 404
    assert answer.json() == {"error": "NotFound", "message": "no route for this method and path"}
    assert answer.header("Content-Type") == "application/json"


def test_a_crashing_handler_is_a_502_without_details(app):
    def crash(event, context):
        raise RuntimeError("secret detail")

    app._handlers["HomeFunction"] = crash
    answer = call(app, "GET", "/")
    assert answer.status == 502
    assert answer.json() == {"error": "DEFAULT_5XX", "message": "Internal server error"}


def test_a_malformed_proxy_response_is_a_502(app):
    app._handlers["HomeFunction"] = lambda event, context: {"status": 200}
    assert call(app, "GET", "/").status == 502


def test_a_handler_past_its_timeout_is_a_502(app, monkeypatch):
    function = app.api.functions["HomeFunction"]
    monkeypatch.setitem(
        app.api.functions,
        "HomeFunction",
        type(function)(**{**function.__dict__, "timeout_seconds": 0.01}),
    )

    def slow(event, context):
        time.sleep(0.05)
        return {"statusCode": 200, "body": "late"}

    app._handlers["HomeFunction"] = slow
    assert call(app, "GET", "/").status == 502


def test_handlers_see_their_remaining_time_from_the_template_timeout(app):
    seen = {}

    def probe(event, context):
        seen.update(
            name=context.function_name,
            remaining=context.get_remaining_time_in_millis(),
            arn=context.invoked_function_arn,
            memory=context.memory_limit_in_mb,
        )
        return {"statusCode": 200, "body": ""}

    app._handlers["SleepFunction"] = probe
    call(app, "GET", "/sleep/1")
    assert seen["name"] == "SleepFunction" and seen["memory"] == 256
    assert 27_000 < seen["remaining"] <= 28_000
    assert seen["arn"].endswith(":function:SleepFunction")


def test_oversized_or_broken_content_length_is_refused(app):
    from host.app import MAX_BODY_BYTES

    for length in (str(MAX_BODY_BYTES + 1), "-1", "abc"):
        answer = call(app, "GET", "/", headers={"Content-Length": length})
        assert answer.status == 413, length
        assert "error" in answer.json()


def test_env_file_in_sam_local_format_overrides_declared_variables_only(tmp_path: Path):
    env_file = tmp_path / "env.json"
    env_file.write_text(
        json.dumps(
            {
                "Parameters": {"POWERTOOLS_LOG_LEVEL": "DEBUG", "UNDECLARED": "x"},
                "SleepFunction": {"MAX_SLEEP_SECONDS": "2"},
            }
        )
    )
    api = read_api(ROOT / "template.yaml")
    merged = function_environment(api, read_env_file(env_file))
    assert merged["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    assert merged["MAX_SLEEP_SECONDS"] == "2"
    assert "UNDECLARED" not in merged


@pytest.mark.parametrize("content", ["[]", '{"Parameters": []}', "not json"])
def test_env_file_must_be_the_sam_local_format(tmp_path: Path, content):
    env_file = tmp_path / "env.json"
    env_file.write_text(content)
    with pytest.raises(ValueError):
        read_env_file(env_file)


def test_conflicting_function_variables_are_refused(tmp_path: Path):
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"HomeFunction": {"POWERTOOLS_LOG_LEVEL": "DEBUG"}}))
    with pytest.raises(EnvironmentConflict, match="POWERTOOLS_LOG_LEVEL"):
        function_environment(read_api(ROOT / "template.yaml"), read_env_file(env_file))


def test_concurrent_requests_keep_their_own_correlation_ids(app: Host, capsys, no_sleep):
    """Many requests per process (gunicorn threads): each log line names its own request."""
    results = []

    def request(value: str) -> None:
        results.append(call(app, "GET", f"/sleep/{value}").status)

    threads = [threading.Thread(target=request, args=(v,)) for v in ["hello", "nan", "-1", "x"] * 10]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [400] * 40
    records = [r for r in output_records(capsys.readouterr().out) if r.get("message") == "request failed"]
    assert len(records) == 40
    # a log line's correlation id is the request id of the request that wrote it: all distinct
    assert len({r["correlation_id"] for r in records}) == 40
    assert all(r["function_request_id"] for r in records)
