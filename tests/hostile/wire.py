"""Raw HTTP/1.1 over loopback sockets, for the requests no HTTP client sends (malformed, oversized,
slow): the hostile-traffic tier and the worker's own tests use it."""

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

#: the lines `health_latency` measured, printed at the end of the run (tests/hostile/conftest.py)
MEASURED: list[str] = []


@dataclass
class Raw:
    """What came back on one raw connection."""

    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float  # until the server closed the connection (or the read timed out)
    closed: bool
    data: bytes = field(repr=False, default=b"")

    def json(self) -> dict[str, Any]:
        document = json.loads(self.body)
        assert isinstance(document, dict)
        return document

    def is_api_error(self, status: int) -> bool:
        """The API's error shape: status, JSON {"error", "message"}, a Content-Length that fits."""
        try:
            document = self.json()
        except ValueError:
            return False
        return (
            self.status == status
            and self.headers.get("content-type") == "application/json"
            and set(document) == {"error", "message"}
            and all(isinstance(value, str) for value in document.values())
            and self.headers.get("content-length") == str(len(self.body))
        )


def parse(data: bytes, seconds: float, closed: bool) -> Raw:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(body)))
    return Raw(status, headers, body[:length], seconds, closed, data)


def address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    assert parts.hostname in ("127.0.0.1", "localhost", "::1"), "loopback only"
    return parts.hostname, parts.port or 80


def exchange(base_url: str, data: bytes, *, timeout: float = 20, then: bytes = b"") -> Raw:
    """Send ``data`` (and ``then``, from another thread, so a server that answers before the end is
    read while it is sent), read until the server closes or ``timeout``."""
    sock = socket.create_connection(address(base_url), timeout=timeout)
    started = time.monotonic()
    sender = None
    with sock:
        sock.sendall(data)
        if then:

            def send_rest() -> None:
                with contextlib.suppress(OSError):  # the server may answer and close before the end
                    sock.sendall(then)

            sender = threading.Thread(target=send_rest, daemon=True)
            sender.start()
        received, closed = b"", False
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    closed = True
                    break
                received += chunk
        except TimeoutError:
            pass
        except ConnectionResetError:
            closed = True
        seconds = time.monotonic() - started
    if sender is not None:
        sender.join(timeout=10)
    return parse(received, seconds, closed)


def read_response(sock: socket.socket) -> Raw:
    """One whole response from a kept-alive connection (its head, then Content-Length bytes)."""
    started, data = time.monotonic(), b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return parse(data, time.monotonic() - started, closed=True)
        data += chunk
    answer = parse(data, 0, closed=False)
    while len(answer.body) < int(answer.headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        answer = parse(data, 0, closed=False)
    answer.seconds = time.monotonic() - started
    return answer
