"""The API contract (the route table of docs/stack.md), over HTTP, against any runtime.

pytest tests/contract                                  # a host started here (moto holds the secret)
pytest tests/contract --base-url http://127.0.0.1:3000 -p no:socket --secret any
pytest tests/contract --stack-name aws-cicd-dev -p no:socket
"""

import threading
import time
from urllib.parse import quote

import pytest

from tests.contract.conftest import Reply, Target, fetch


def is_json_error(reply: Reply) -> bool:
    try:
        document = reply.json()
    except (ValueError, AssertionError):
        return False
    return "application/json" in reply.content_type and ("error" in document or "message" in document)


def test_home(target: Target):
    reply = fetch(target, "/")
    assert (reply.status, reply.body) == (200, "Welcome to my home")
    assert reply.content_type.startswith("text/plain")


def test_healthcheck(target: Target):
    reply = fetch(target, "/healthcheck")
    assert (reply.status, reply.body) == (200, "Hello World!")


@pytest.mark.parametrize("seconds", ["0", "0.2", "1.5", "2e-1", "+1", ".5", "00"])
def test_sleep_echoes_the_value_as_given(target: Target, seconds: str):
    if quote(seconds) != seconds and not target.decodes_path_parameters:
        pytest.skip("this server passes path parameters still percent-encoded")
    started = time.monotonic()
    reply = fetch(target, f"/sleep/{quote(seconds)}")
    assert (reply.status, reply.body) == (200, f"sleep for {seconds} secs")
    assert time.monotonic() - started >= float(seconds)


BAD = [
    "hello",
    "-1",
    "-0.5",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e9",
    "1e400",
    "26",
    "25.5",
    "0x10",
    "1_0",
    "1,5",
    "1e",
    "9" * 1000,
    " 1",
    "1 ",
    "\u0663",
    "\u00bd",
    "%",
    "'; DROP TABLE x; --",
    "<script>",
]


@pytest.mark.parametrize("seconds", BAD, ids=[b[:20] for b in BAD])
def test_bad_sleep_is_a_400_naming_the_parameter_and_range(target: Target, seconds: str):
    if seconds in ("26", "25.5") and target.max_sleep >= float(seconds):
        pytest.skip("within this target's maximum")
    reply = fetch(target, "/sleep/" + quote(seconds, safe=""))
    assert reply.status == 400, reply.body
    document = reply.json()
    assert document["error"] == "InvalidInput"
    assert "seconds" in str(document["message"]) and f"0 to {target.max_sleep:g}" in str(document["message"])
    assert "Traceback" not in reply.body


@pytest.mark.parametrize("raw", ["%00", "%FF%FE", "1%2F2", "%2e%2e", "a%0Ab", "%25", "%C0%AF", "1%3B2"])
def test_encoded_junk_never_breaks_the_server(target: Target, raw: str):
    reply = fetch(target, f"/sleep/{raw}")
    assert reply.status in (400, 403, 404), reply.body
    assert is_json_error(reply)


def test_secret(target: Target):
    reply = fetch(target, "/secret")
    expected = {"present": (200,), "absent": (503,), "any": (200, 503)}[target.secret]
    assert reply.status in expected, reply.body
    document = reply.json()
    if reply.status == 200:
        assert set(document) == {"Name", "Value"}
        if target.secret_value is not None:
            assert target.secret_value not in reply.body
            assert target.secret_value[:-2] not in reply.body
    else:
        assert document["error"] == "SecretUnavailable"
        assert "Traceback" not in reply.body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("GET", "/healthcheck/extra"),
        ("POST", "/healthcheck"),
        ("DELETE", "/"),
        ("PUT", "/secret"),
        ("GET", "/sleep"),
        ("GET", "/sleep/1/2"),
    ],
)
def test_unknown_routes_and_methods(target: Target, method: str, path: str):
    reply = fetch(target, path, method=method)
    assert reply.status in (403, 404, 405), reply.body
    assert is_json_error(reply)


def test_healthcheck_stays_fast_while_sleeps_are_in_flight(target: Target):
    """Four /sleep/5 in flight: five /healthcheck answered meanwhile, each well within a sleep, all
    before the sleeps return. A server that queued health behind sleeps could do neither."""
    if target.serial:
        pytest.skip("the target serves one request at a time per function (sam local start-api)")
    seconds = min(5.0, target.max_sleep)
    if seconds < 2:
        pytest.skip("the target's maximum sleep is too short to hold requests in flight")
    finished: list[float] = []

    def sleeper() -> None:
        assert fetch(target, f"/sleep/{seconds:g}").status == 200
        finished.append(time.monotonic())

    sleepers = [threading.Thread(target=sleeper) for _ in range(4)]
    for thread in sleepers:
        thread.start()
    checks = []
    for _ in range(5):
        asked = time.monotonic()
        reply = fetch(target, "/healthcheck", timeout=seconds)
        checks.append((reply.status, time.monotonic() - asked, time.monotonic()))
    for thread in sleepers:
        thread.join()
    assert [status for status, _, _ in checks] == [200] * 5
    assert len(finished) == 4
    assert max(took for _, took, _ in checks) < seconds / 2, "a /healthcheck waited for a /sleep"
    assert max(at for _, _, at in checks) < min(finished), "the sleeps returned before health was answered"
