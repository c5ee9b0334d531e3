"""What the worker's event loop decides from the bytes of a request head (host.worker.examine); the
worker itself is exercised over real sockets by the hostile-traffic tier (tests/hostile)."""

import pytest

from host.limits import Limits
from host.worker import Complete, Refusal, examine

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
