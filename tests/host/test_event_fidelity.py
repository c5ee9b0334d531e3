"""The events the host builds have API Gateway's shape, and every fixture answers as in-process."""

import base64
import ipaddress
import json
from typing import Any

import pytest

from host.app import Host, make_app
from host.events import MalformedResponse, build_event, http_response, source_ip
from host.limits import Limits
from simple_api.services import smoke
from tests.factories import EVENTS, ROOT
from tests.host.conftest import call
from tests.templates.conftest import BUILD
from tests.unit.functions.conftest import handler


def shape(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: shape(value) for key, value in node.items()}
    return None


@pytest.fixture
def generated() -> dict[str, Any]:
    reference = BUILD / "generated-aws-proxy-event.json"
    if not reference.exists():
        pytest.fail(f"{reference} is missing: `make translate` writes it with `sam local generate-event`")
    document: dict[str, Any] = json.loads(reference.read_text())
    return document


class Recorder:
    """Stands in for a handler and keeps the event the host built."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 200, "body": ""}


@pytest.fixture
def recorded(app: Host) -> Recorder:
    recorder = Recorder()
    for name in app.api.functions:
        app._handlers[name] = recorder
    return recorder


@pytest.fixture
def event(app: Host, recorded: Recorder) -> dict[str, Any]:
    """The event the host builds for one request with a query, headers and a body."""
    call(
        app,
        "GET",
        "/sleep/1.5",
        query="a=1&a=2&b=",
        body=b'{"k": "v"}',
        headers={"User-Agent": "curl/8", "X-Forwarded-For": "198.51.100.7"},
    )
    (built,) = recorded.events
    return built


def test_event_has_every_field_of_sam_generate_event(event, generated):
    reference = shape(generated)
    built = shape(event)
    for key in (
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
    ):
        built[key] = reference[key] = None  # maps whose keys depend on the request
    assert built == reference


def test_event_fields_carry_the_request(event):
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/sleep/{seconds}", "/sleep/1.5", "GET")
    assert event["pathParameters"] == {"seconds": "1.5"}
    assert event["queryStringParameters"] == {"a": "2", "b": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""]}
    assert event["headers"]["User-Agent"] == "curl/8"
    assert event["multiValueHeaders"]["User-Agent"] == ["curl/8"]
    assert (event["body"], event["isBase64Encoded"]) == ('{"k": "v"}', False)
    context = event["requestContext"]
    assert (context["stage"], context["resourcePath"], context["httpMethod"]) == ("dev", "/sleep/{seconds}", "GET")
    assert context["path"] == "/dev/sleep/1.5"
    # 203.0.113.9, the peer, is no trusted proxy: the X-Forwarded-For it sent is not believed
    assert context["identity"]["sourceIp"] == "203.0.113.9"
    assert len(context["requestId"]) == 36


def test_each_request_gets_its_own_request_id(app, recorded):
    call(app, "GET", "/")
    call(app, "GET", "/")
    assert recorded.events[0]["requestContext"]["requestId"] != recorded.events[1]["requestContext"]["requestId"]


def test_binary_bodies_arrive_base64_encoded(app, recorded):
    call(app, "GET", "/healthcheck", body=b"\xff\x00\xfe")
    (event,) = recorded.events
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\xff\x00\xfe"


def test_encoded_path_parameters_are_decoded_but_stay_one_segment(app, recorded):
    call(app, "GET", "/sleep/a%2Fb%20c", raw=True)
    (event,) = recorded.events
    assert event["pathParameters"] == {"seconds": "a/b c"}


CASES = smoke.load_cases(EVENTS)


@pytest.mark.parametrize("case", CASES, ids=[case.fixture for case in CASES])
def test_every_fixture_round_trips_through_the_host(case, request, app, lambda_context, no_sleep):
    request.getfixturevalue("secret" if case.needs == "secret" else "aws")
    direct = handler(case.function)(json.loads(json.dumps(case.event)), lambda_context)
    answer = call(app, case.event["httpMethod"], case.event["path"])
    assert answer.status == direct["statusCode"]
    assert answer.body.decode() == direct["body"]
    assert answer.header("Content-Type") == direct["headers"]["Content-Type"]


def test_proxy_responses_become_http():
    answer = http_response(
        {
            "statusCode": 201,
            "headers": {"A": "1"},
            "multiValueHeaders": {"B": ["x", "y"]},
            "body": base64.b64encode(b"\x00\x01").decode(),
            "isBase64Encoded": True,
        }
    )
    assert answer.status == 201
    assert answer.headers == [("B", "x"), ("B", "y"), ("A", "1")]
    assert answer.body == b"\x00\x01"


@pytest.mark.parametrize(
    "answer",
    [
        None,
        "text",
        {},
        {"statusCode": "200"},
        {"statusCode": True},
        {"statusCode": 99},
        {"statusCode": 600},
        {"statusCode": 200, "body": 5},
        {"statusCode": 200, "body": "@@", "isBase64Encoded": True},
        {"statusCode": 200, "multiValueHeaders": {"A": "not a list"}},
    ],
)
def test_malformed_proxy_responses_are_rejected(answer):
    with pytest.raises(MalformedResponse):
        http_response(answer)


TRUSTED = Limits(trusted_proxies=(ipaddress.ip_network("10.0.0.0/16"),))


@pytest.mark.parametrize(
    ("peer", "forwarded", "source"),
    [
        ("10.0.3.7", ["198.51.100.7"], "198.51.100.7"),  # the ALB appended the client it saw
        ("10.0.3.7", ["1.2.3.4, 198.51.100.7"], "198.51.100.7"),  # what the client sent comes first
        ("10.0.3.7", ["1.2.3.4", "198.51.100.7"], "198.51.100.7"),  # two headers: the last one
        ("10.0.3.7", [], "10.0.3.7"),  # a trusted peer that forwards nothing is the source
        ("10.0.3.7", [" , "], "10.0.3.7"),
        ("203.0.113.9", ["198.51.100.7"], "203.0.113.9"),  # a direct client cannot choose its address
        ("not-an-address", ["198.51.100.7"], "not-an-address"),
    ],
)
def test_source_ip_is_what_the_load_balancer_saw(peer, forwarded, source):
    assert source_ip({"X-Forwarded-For": forwarded} if forwarded else {}, peer, TRUSTED.trusts) == source


def test_the_host_believes_only_its_trusted_proxies(monkeypatch, recorded):
    monkeypatch.setenv("HOST_TRUSTED_PROXIES", "203.0.113.0/24, 10.0.0.0/16")
    trusting = make_app(ROOT / "template.yaml")
    for name in trusting.api.functions:
        trusting._handlers[name] = recorded
    call(trusting, "GET", "/", headers={"X-Forwarded-For": "1.2.3.4, 198.51.100.7"})
    assert recorded.events[-1]["requestContext"]["identity"]["sourceIp"] == "198.51.100.7"


def test_build_event_without_raw_uri_uses_path_info():
    event = build_event(
        {"REQUEST_METHOD": "GET", "PATH_INFO": "/sleep/\xd9\xa1"},
        b"",
        resource="/sleep/{seconds}",
        path_parameters={"seconds": "x"},
        stage="dev",
    )
    assert event["path"] == "/sleep/\u0661"
