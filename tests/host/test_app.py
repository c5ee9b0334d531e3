"""Routing, errors and environment of the host, answered the way API Gateway answers."""

import io
import json
import threading
import time
from pathlib import Path

import pytest

from host.app import (
    MAX_BODY_BYTES,
    EnvironmentConflict,
    Host,
    error_kind,
    function_environment,
    json_error,
    make_app,
    read_env_file,
    serialize,
)
from host.limits import Limits
from host.template import read_api
from tests.conftest import output_records
from tests.factories import ROOT
from tests.host.conftest import Answer, call


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("POST", "/healthcheck"),
        ("DELETE", "/"),
        ("GET", "/healthcheck/"),
        ("GET", "/sleep/"),
        ("GET", "/sleep/1/2"),
        ("PUT", "/healthcheck"),
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


def test_head_answers_like_get_without_the_body(app):
    for path in ("/", "/healthcheck", "/sleep/0"):
        get, head = call(app, "GET", path), call(app, "HEAD", path)
        assert head.status == get.status == 200
        assert head.body == b"" and get.body
        assert head.header("Content-Length") == get.header("Content-Length") == str(len(get.body))
        assert head.header("Content-Type") == get.header("Content-Type")
    missing = call(app, "HEAD", "/nope")
    assert (missing.status, missing.body) == (404, b"")


def is_api_error(answer: Answer, status: int, kind: str) -> bool:
    """The API's error shape: JSON {"error", "message"} from the template's gateway responses."""
    document = answer.json()
    return (
        answer.status == status
        and answer.header("Content-Type") == "application/json"
        and set(document) == {"error", "message"}
        and document["error"] == kind
        and answer.header("Content-Length") == str(len(answer.body))
    )


@pytest.mark.parametrize(
    ("length", "status", "kind"),
    [
        (str(MAX_BODY_BYTES + 1), 413, "REQUEST_TOO_LARGE"),
        ("-1", 400, "BAD_REQUEST"),
        ("abc", 400, "BAD_REQUEST"),
        ("1e3", 400, "BAD_REQUEST"),
    ],
)
def test_oversized_or_broken_content_length_is_refused(app, length, status, kind):
    assert is_api_error(call(app, "GET", "/", headers={"Content-Length": length}), status, kind)


class Trickle(io.RawIOBase):
    """A request body that arrives ``size`` bytes per read, or times out like a stalled socket."""

    def __init__(self, total: int, size: int = 1024 * 1024, stall: bool = False) -> None:
        self.left, self.size, self.stall = total, size, stall

    def read(self, n: int = -1) -> bytes:
        if self.stall:
            raise TimeoutError("timed out")
        part = min(self.left, self.size, n if n >= 0 else self.size)
        self.left -= part
        return b"x" * part


def chunked(app: Host, stream: io.RawIOBase) -> Answer:
    return call(app, "GET", "/", headers={"Transfer-Encoding": "chunked"}, stream=stream, length=None)


def test_a_chunked_body_over_the_limit_is_413_and_one_within_it_is_read(app):
    assert is_api_error(chunked(app, Trickle(MAX_BODY_BYTES + 1)), 413, "REQUEST_TOO_LARGE")
    seen = []

    def home(event, context):
        seen.append(event)
        return {"statusCode": 200, "body": ""}

    app._handlers["HomeFunction"] = home
    assert chunked(app, Trickle(5000, size=1000)).status == 200
    assert seen[0]["body"] == "x" * 5000


def test_a_body_that_stalls_is_408(app):
    assert is_api_error(chunked(app, Trickle(10, stall=True)), 408, "REQUEST_TIMEOUT")


def test_a_body_that_trickles_past_the_body_deadline_is_408(app, monkeypatch):
    clock = iter(range(0, 10_000, 20))  # every look at the clock is 20 s later
    monkeypatch.setattr("host.app.time.monotonic", lambda: float(next(clock)))
    assert is_api_error(chunked(app, Trickle(5000, size=10)), 408, "REQUEST_TIMEOUT")


def test_long_requests_share_a_bulkhead_and_short_routes_stay_available(monkeypatch):
    """threads=3 leaves one slot for long functions (/sleep): a second /sleep is refused with 503 and
    Retry-After while the first runs; / still answers; once the first ends, /sleep is served again."""
    monkeypatch.chdir(ROOT)
    host = Host(read_api(ROOT / "template.yaml"), limits=Limits(threads=3))
    started, release = threading.Event(), threading.Event()

    def held(event, context):
        started.set()
        release.wait(10)
        return {"statusCode": 200, "body": "done"}

    host._handlers["SleepFunction"] = held
    host._handlers["HomeFunction"] = lambda event, context: {"statusCode": 200, "body": "home"}
    first = threading.Thread(target=call, args=(host, "GET", "/sleep/1"))
    first.start()
    try:
        assert started.wait(10)
        refused = call(host, "GET", "/sleep/1")
        assert is_api_error(refused, 503, "SERVICE_UNAVAILABLE")
        assert refused.header("Retry-After") == str(host.limits.retry_after_seconds)
        assert "long requests" in refused.json()["message"]
        assert call(host, "GET", "/").status == 200
    finally:
        release.set()
        first.join(10)
    assert call(host, "GET", "/sleep/1").status == 200


def test_every_error_the_host_answers_renders_the_template_gateway_response(app):
    """One format: the host's own errors are the template's DEFAULT_4XX / DEFAULT_5XX bodies."""
    template = app.api.gateway_responses
    for status in (400, 408, 413, 414, 431, 503):
        default = template["DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"].body
        expected = default.replace("$context.error.responseType", error_kind(status)).replace(
            "$context.error.messageString", json.dumps("why")
        )
        assert app.error(status, "why").body.decode() == expected


def test_without_gateway_responses_errors_are_compact_json():
    response = json_error("BAD_REQUEST", 400, "why", retry_after=3)
    assert response.body == b'{"error":"BAD_REQUEST","message":"why"}'
    assert ("Retry-After", "3") in response.headers
    raw = serialize(response, close=True)
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"\r\nConnection: close\r\n" in raw
    assert raw.endswith(b"\r\n\r\n" + response.body) and f"Content-Length: {len(response.body)}".encode() in raw


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


def test_concurrent_requests_keep_their_own_correlation_ids(monkeypatch, capsys, no_sleep):
    """Many requests per process (gunicorn threads): each log line names its own request."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("HOST_THREADS", "48")  # 40 long requests at once fit in the bulkhead
    app = make_app(ROOT / "template.yaml")
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
