"""The tests' HTTP client sends what it is given, once, and shows what the server answered."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import requests

from tests import http


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        if self.path == "/drop":  # close without answering
            self.close_connection = True
            return
        self.send_response(302 if self.path == "/moved" else 200)
        self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_path_goes_out_as_written(server):
    """Escapes stay escapes (plain requests would send %2e as "." and %7e as "~"); urllib3 writes their
    hex digits in upper case, which RFC 3986 (6.2.2.1) makes the same URI."""
    for path in ("/sleep/%2e%2e", "/sleep/%2B1", "/sleep/%7e", "/sleep/a%2Fb", "/sleep/%25"):
        assert http.send(http.session(), "GET", server + path, timeout=10).status_code == 200
    assert _Recorder.seen == ["/sleep/%2E%2E", "/sleep/%2B1", "/sleep/%7E", "/sleep/a%2Fb", "/sleep/%25"]


def test_a_redirect_is_an_answer_not_followed(server):
    assert http.send(http.session(), "GET", server + "/moved", timeout=10).status_code == 302
    assert _Recorder.seen == ["/moved"]


def test_a_dropped_request_fails_once_without_retry(server):
    with pytest.raises(requests.ConnectionError):
        http.send(http.session(), "GET", server + "/drop", timeout=10)
    assert _Recorder.seen == ["/drop"]
