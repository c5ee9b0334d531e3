"""The host's gunicorn worker: what its event loop decides from the bytes of a request head
(host.worker.examine), and the worker itself over loopback sockets, run in this process (the
hostile-traffic tier, tests/hostile, runs it as gunicorn does)."""

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from host.app import Host
from host.limits import Limits
from host.worker import Complete, Refusal, examine
from tests.host.conftest import worker_serving
from tests.hostile.wire import address, exchange

LIMITS = Limits()
HEAD = b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize(
    ("head", "verdict"),
    [
        (b"", None),
        (b"GE", None),
        (b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n", None),
        (HEAD, Complete(health=True)),
        (b"\r\n" + HEAD, Complete(health=True)),  # an empty line before a request is ignored
        (HEAD.replace(b"GET", b"HEAD"), Complete(health=True)),
        (HEAD.replace(b"/healthcheck", b"/healthcheck?probe=1"), Complete(health=True)),
        (HEAD + b"GET / HTTP/1.1\r\n", Complete(health=True)),  # pipelined: the first request decides
        (HEAD.replace(b"/healthcheck", b"/"), Complete(health=False)),
        (HEAD.replace(b"GET", b"POST"), Complete(health=False)),
        (HEAD.replace(b"/healthcheck", b"/healthcheck/"), Complete(health=False)),
        # a health check with a body could hold a health thread while the body trickles in
        (HEAD.replace(b"Host: x", b"Host: x\r\nContent-Length: 5"), Complete(health=False)),
        (HEAD.replace(b"Host: x", b"Host: x\r\ntransfer-encoding: chunked"), Complete(health=False)),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", Refusal(400, "not an HTTP/1.1 request")),
        (b"\x00\x01\x02", Refusal(400, "not an HTTP/1.1 request")),
        (b"GET\t/ HTTP/1.1\r\n\r\n", Refusal(400, "not an HTTP/1.1 request")),
        (b"GET /" + b"a" * 9000, Refusal(414, "request line too long")),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", Refusal(414, "request line too long")),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 20_000, Refusal(431, "request headers too large")),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 20_000 + b"\r\n\r\n", Refusal(431, "request headers too large")),
    ],
)
def test_examine(head, verdict):
    assert examine(head, LIMITS) == verdict


def test_a_request_line_at_the_limit_is_complete():
    line = b"GET /" + b"a" * (LIMITS.request_line_bytes - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
    assert len(line) == LIMITS.request_line_bytes
    assert examine(line + b"\r\nHost: x\r\n\r\n", LIMITS) == Complete(health=False)


# ---------------------------------------------------------------- the worker itself, in this process
@pytest.fixture
def blocked(app: Host) -> Iterator[threading.Event]:
    """/ blocks until the event is set (at most 20 s): a request that holds its thread."""
    release = threading.Event()

    def hold(event, context):
        release.wait(20)
        return {"statusCode": 200, "body": "released"}

    app._handlers["HomeFunction"] = hold
    yield release
    release.set()


def eventually(check: Callable[[], bool], seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_health_is_served_while_every_thread_is_held_and_slow_clients_hang(app, blocked):
    """threads=2: two held requests take every ordinary thread; a third request is refused at once
    (503, Retry-After) and the health check, from its own threads, still answers at once."""
    with worker_serving(app, threads=2) as (url, worker):
        held = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        holders = [threading.Thread(target=exchange, args=(url, held)) for _ in "12"]
        for holder in holders:
            holder.start()
        assert eventually(lambda: worker.busy == 2)
        slow = [socket.create_connection(address(url)) for _ in range(8)]
        for sock in slow:
            sock.sendall(b"GET /healthcheck HTTP/1.1\r\nHost: slow\r\n")
        refused = exchange(url, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert refused.is_api_error(503) and refused.headers["retry-after"] == str(LIMITS.retry_after_seconds)
        health = exchange(url, b"GET /healthcheck HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert (health.status, health.body) == (200, b"Hello World!") and health.seconds < 5
        head = exchange(url, b"HEAD /healthcheck HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert (head.status, head.headers["content-length"], head.body) == (200, "12", b"")
        blocked.set()
        for holder in holders:
            holder.join(30)
        for sock in slow:
            sock.close()
        assert eventually(lambda: worker.busy == 0 and worker.nr_conns == 0)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),  # from the event loop
        (b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n", 400),  # from gunicorn's parser
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\n" + b"X-H: v\r\n" * 120 + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n" + b"x" * 200_000, 413),  # from the app
    ],
)
def test_errors_are_json_and_close_the_connection(app, data, status):
    with worker_serving(app) as (url, worker):
        answer = exchange(url, data)
        assert answer.is_api_error(status), answer
        assert answer.closed and answer.headers["connection"] == "close"
        assert eventually(lambda: worker.nr_conns == 0 and not worker.lingering)


def test_a_head_that_does_not_arrive_in_time_is_408_and_a_client_that_leaves_is_dropped(app, monkeypatch):
    monkeypatch.setattr("host.worker.LIMITS", Limits(client_timeout=0.5))
    with worker_serving(app) as (url, worker):
        late = exchange(url, b"GET / HTTP/1.1\r\nHost: t\r\n")
        assert late.is_api_error(408) and late.closed
        silent = exchange(url, b"", timeout=5)  # connects, says nothing: closed without an answer
        assert silent.closed and silent.status == 0
        with socket.create_connection(address(url)) as leaving:
            leaving.sendall(b"GET / HT")
        assert eventually(lambda: worker.nr_conns == 0 and not worker.reading)


def test_keep_alive_and_pipelined_requests_are_served_in_order(app):
    with worker_serving(app) as (url, _):
        with requests.Session() as session:
            assert [session.get(f"{url}/healthcheck", timeout=10).status_code for _ in range(5)] == [200] * 5
        pipelined = exchange(
            url,
            b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /healthcheck HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
        assert pipelined.data.count(b"HTTP/1.1 200 OK") == 2 and pipelined.data.count(b"HTTP/1.1 404") == 1
        assert pipelined.data.index(b"Welcome to my home") < pipelined.data.index(b"Hello World!")
