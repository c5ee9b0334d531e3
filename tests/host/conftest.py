"""An in-process host (no server): WSGI calls straight into host.app.Host."""

import io
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from wsgiref.util import setup_testing_defaults

import pytest

from host.app import Host, make_app
from tests.factories import ROOT


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    app: Host,
    method: str,
    path: str,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    raw: bool = False,
    stream: io.RawIOBase | None = None,
    length: int | None = -1,
) -> Answer:
    """One request; ``path`` is percent-encoded here unless ``raw`` (then sent as given). The body is
    ``body`` with its Content-Length, or ``stream`` with ``length`` (None: no Content-Length)."""
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    target = path if raw else quote(path, safe="/%")
    environ.update(
        REQUEST_METHOD=method,
        RAW_URI=target + (f"?{query}" if query else ""),
        QUERY_STRING=query,
        PATH_INFO=path,
        CONTENT_LENGTH=str(len(body)) if length == -1 else ("" if length is None else str(length)),
        REMOTE_ADDR="203.0.113.9",
    )
    environ["wsgi.input"] = stream or io.BytesIO(body)
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    seen: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        seen.update(status=int(status.split(maxsplit=1)[0]), headers=response_headers)

    chunks = app(environ, start_response)
    return Answer(seen["status"], seen["headers"], b"".join(chunks))


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Host:
    monkeypatch.chdir(ROOT)
    return make_app(ROOT / "template.yaml")
