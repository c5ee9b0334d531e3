"""The WSGI application: route by the template, invoke the handler in-process, answer like API Gateway."""

import importlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from host.context import LambdaContext
from host.events import HttpResponse, MalformedResponse, build_event, http_response, raw_path
from host.limits import MAX_BODY_BYTES, Limits
from host.template import Api, Function, GatewayResponse, Route, read_api

type StartResponse = Callable[[str, list[tuple[str, str]]], Any]
type Handler = Callable[[dict[str, Any], Any], Any]

__all__ = ["MAX_BODY_BYTES", "Host", "HttpResponse", "error_kind", "json_error", "make_app", "serialize"]

#: the body of an error when the template defines no gateway response for it (API Gateway's shape,
#: compact like every JSON body of the API)
DEFAULT_ERROR = GatewayResponse(
    status=0, body='{"error":"$context.error.responseType","message":$context.error.messageString}'
)
#: the responseType of the errors the host itself answers: API Gateway's own names where it has one
#: (REQUEST_TOO_LARGE, DEFAULT_5XX), the same style for the ones only a server in front meets
KINDS = {
    400: "BAD_REQUEST",
    403: "ACCESS_DENIED",
    408: "REQUEST_TIMEOUT",
    413: "REQUEST_TOO_LARGE",
    414: "URI_TOO_LONG",
    417: "EXPECTATION_FAILED",
    431: "REQUEST_HEADER_FIELDS_TOO_LARGE",
    501: "NOT_IMPLEMENTED",
    502: "DEFAULT_5XX",
    503: "SERVICE_UNAVAILABLE",
}


def error_kind(status: int) -> str:
    return KINDS.get(status) or ("DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX")


def _render(template: GatewayResponse, kind: str, status: int, message: str, retry_after: int | None) -> HttpResponse:
    body = template.body or DEFAULT_ERROR.body
    body = body.replace("$context.error.responseType", kind).replace(
        "$context.error.messageString", json.dumps(message)
    )
    headers = [("Content-Type", "application/json")]
    if retry_after is not None:
        headers.append(("Retry-After", str(retry_after)))
    return HttpResponse(status=template.status or status, headers=headers, body=body.encode())


def json_error(kind: str, status: int, message: str, retry_after: int | None = None) -> HttpResponse:
    """An error in the API's shape when no template is at hand."""
    return _render(DEFAULT_ERROR, kind, status, message, retry_after)


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def serialize(response: HttpResponse, *, close: bool) -> bytes:
    """A whole HTTP/1.1 response, for the answers a server writes itself."""
    lines = [f"HTTP/1.1 {response.status} {reason(response.status)}".strip()]
    lines += [f"{name}: {value}" for name, value in response.headers]
    lines.append(f"Content-Length: {len(response.body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


class EnvironmentConflict(Exception):
    """Two functions want different values for one variable; one process cannot give both."""


def read_env_file(path: Path | None) -> dict[str, dict[str, str]]:
    """The `sam local --env-vars` format: {"Parameters": {...all...}, "<LogicalId>": {...one...}}."""
    if path is None:
        return {}
    document = json.loads(path.read_text())
    if not isinstance(document, dict) or not all(isinstance(v, dict) for v in document.values()):
        raise ValueError(f"{path}: expected an object of objects, as sam local --env-vars reads")
    return {name: {k: str(v) for k, v in values.items()} for name, values in document.items()}


def function_environment(api: Api, env_file: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Each function's variables (template, then env file; only declared variables, as sam local does),
    merged into the one environment of this process."""
    merged: dict[str, str] = {}
    for function in api.functions.values():
        values = dict(function.environment)
        for scope in ("Parameters", function.name):
            values.update({k: v for k, v in env_file.get(scope, {}).items() if k in function.environment})
        for key, value in values.items():
            if merged.get(key, value) != value:
                raise EnvironmentConflict(f"{key} differs between functions; the host runs them in one process")
            merged[key] = value
    return merged


@dataclass(frozen=True)
class Match:
    route: Route
    path_parameters: dict[str, str]


class Host:
    def __init__(
        self,
        api: Api,
        region: str = "us-east-1",
        before_request: Callable[[], None] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.api = api
        self.region = region
        self.limits = limits or Limits.from_environ()
        self._before_request = before_request or (lambda: None)
        self._patterns = [(route, route.pattern()) for route in api.routes]
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        # the bulkhead of long functions: while they fill it, the short routes keep threads
        self._long_slots = threading.BoundedSemaphore(self.limits.long_slots)

    # ---------------------------------------------------------------- routing
    def match(self, method: str, path: str) -> Match | None:
        """The route for a method and a still-encoded path; path parameters come out decoded.
        HEAD is answered as GET is (without the body), as uptime checkers expect."""
        wanted = ("GET", "HEAD", "ANY") if method == "HEAD" else (method, "ANY")
        for route, pattern in self._patterns:
            found = pattern.match(path)
            if found and route.method in wanted:
                params = {k: unquote(v, errors="replace") for k, v in found.groupdict().items()}
                return Match(route, params)
        return None

    def handler(self, function: Function) -> Handler:
        """The function's handler; imported on first use (only that takes the lock)."""
        found = self._handlers.get(function.name)
        if found is None:
            with self._lock:
                if function.name not in self._handlers:
                    module = importlib.import_module(function.module)
                    self._handlers[function.name] = getattr(module, function.attribute)
                found = self._handlers[function.name]
        return found

    # ---------------------------------------------------------------- answers
    def gateway_response(self, kind: str, status: int, message: str, retry_after: int | None = None) -> HttpResponse:
        """The template's gateway response for ``kind`` (or its DEFAULT_4XX / DEFAULT_5XX)."""
        spec = self.api.gateway_responses.get(kind)
        default = self.api.gateway_responses.get("DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX")
        chosen = spec or (GatewayResponse(status=0, body=default.body) if default else DEFAULT_ERROR)
        return _render(chosen, kind, status, message, retry_after)

    def error(self, status: int, message: str, retry_after: int | None = None) -> HttpResponse:
        return self.gateway_response(error_kind(status), status, message, retry_after)

    def invoke(self, environ: Mapping[str, Any], body: bytes) -> HttpResponse:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        found = self.match(method, raw_path(environ))
        if found is None:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
        function = self.api.functions[found.route.function]
        if function.timeout_seconds <= self.limits.long_after_seconds:
            return self.run(function, found, environ, body)
        if not self._long_slots.acquire(blocking=False):
            message = f"too many long requests in flight on this host ({self.limits.long_slots}); retry later"
            return self.error(503, message, self.limits.retry_after_seconds)
        try:
            return self.run(function, found, environ, body)
        finally:
            self._long_slots.release()

    def run(self, function: Function, found: Match, environ: Mapping[str, Any], body: bytes) -> HttpResponse:
        """One invocation of the function's handler, answered as API Gateway answers it."""
        event = build_event(
            environ,
            body,
            resource=found.route.path,
            path_parameters=found.path_parameters,
            stage=self.api.stage,
            trusts=self.limits.trusts,
        )
        context = LambdaContext(
            function_name=function.name,
            memory_limit_in_mb=function.memory_mb,
            timeout_seconds=function.timeout_seconds,
            region=self.region,
        )
        started = time.monotonic()
        self._before_request()
        try:
            answer = self.handler(function)(event, context)
        except Exception:  # a Lambda function error: API Gateway answers 502
            return self.gateway_response("DEFAULT_5XX", 502, "Internal server error")
        if time.monotonic() - started > function.timeout_seconds:  # Lambda would have stopped it
            return self.gateway_response("DEFAULT_5XX", 502, "Internal server error")
        try:
            return http_response(answer)
        except MalformedResponse:
            return self.gateway_response("DEFAULT_5XX", 502, "Internal server error")

    # ---------------------------------------------------------------- WSGI
    def read_body(self, environ: Mapping[str, Any]) -> bytes | HttpResponse:
        """The request body, whatever its framing (Content-Length or chunked), or the error to answer:
        413 past the limit, 400 for a broken length, 408 when it does not arrive in time."""
        limit = self.limits.max_body_bytes
        declared = str(environ.get("CONTENT_LENGTH") or "").strip()
        if declared and not declared.isdigit():
            return self.error(400, "invalid Content-Length")
        if declared and int(declared) > limit:
            return self.error(413, f"request body larger than {limit} bytes")
        chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
        wanted = int(declared) if declared else (limit + 1 if chunked else 0)
        stream = environ["wsgi.input"]
        deadline = time.monotonic() + self.limits.body_seconds
        parts: list[bytes] = []
        received = 0
        try:
            while received < wanted:
                if time.monotonic() > deadline:
                    raise TimeoutError
                part = stream.read(min(wanted - received, 1024 * 1024))
                if not part:
                    break
                parts.append(part)
                received += len(part)
        except TimeoutError:
            return self.error(408, f"the request body did not arrive within {self.limits.body_seconds:g} s")
        if received > limit:
            return self.error(413, f"request body larger than {limit} bytes")
        return b"".join(parts)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = self.read_body(environ)
        answer = body if isinstance(body, HttpResponse) else self.invoke(environ, body)
        headers = [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(answer.body))))
        start_response(f"{answer.status} {reason(answer.status)}".strip(), headers)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [answer.body]


def make_app(
    template: Path | None = None,
    env_file: Path | None = None,
    parameter_overrides: Mapping[str, str] | None = None,
) -> Host:
    """The host for ``template`` (default: HOST_TEMPLATE or ./template.yaml), with the functions'
    environment applied to this process (HOST_ENV_FILE: a `sam local --env-vars` file)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    template = template or Path(os.environ.get("HOST_TEMPLATE", "template.yaml"))
    if env_file is None and os.environ.get("HOST_ENV_FILE"):
        env_file = Path(os.environ["HOST_ENV_FILE"])
    if parameter_overrides is None:
        items = os.environ.get("HOST_PARAMETER_OVERRIDES", "").split()
        parameter_overrides = dict(item.split("=", 1) for item in items)
    api = read_api(template, parameter_overrides, region)
    os.environ.update(function_environment(api, read_env_file(env_file)))
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    # imported only now: Powertools reads the service name and namespace when the singletons are built
    from simple_api.observability import share_between_threads, start_request  # noqa: PLC0415

    share_between_threads()
    return Host(api, region, before_request=start_request)
