"""The WSGI application: route by the template, invoke the handler in-process, answer like API Gateway."""

import importlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from host.context import LambdaContext
from host.events import HttpResponse, MalformedResponse, build_event, http_response, raw_path
from host.template import Api, Function, GatewayResponse, Route, read_api

type StartResponse = Callable[[str, list[tuple[str, str]]], Any]
type Handler = Callable[[dict[str, Any], Any], Any]

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
DEFAULT_5XX = GatewayResponse(status=0, body='{"message": $context.error.messageString}')
REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


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
    def __init__(self, api: Api, region: str = "us-east-1", before_request: Callable[[], None] | None = None) -> None:
        self.api = api
        self.region = region
        self._before_request = before_request or (lambda: None)
        self._patterns = [(route, route.pattern()) for route in api.routes]
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- routing
    def match(self, method: str, path: str) -> Match | None:
        """The route for a method and a still-encoded path; path parameters come out decoded."""
        for route, pattern in self._patterns:
            found = pattern.match(path)
            if found and route.method in (method, "ANY"):
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
    def gateway_response(self, kind: str, status: int, message: str) -> HttpResponse:
        spec = self.api.gateway_responses.get(kind)
        default = self.api.gateway_responses.get("DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX")
        chosen = spec or default or DEFAULT_5XX
        body = chosen.body or '{"message": $context.error.messageString}'
        body = body.replace("$context.error.responseType", kind).replace(
            "$context.error.messageString", json.dumps(message)
        )
        return HttpResponse(
            status=(spec.status if spec and spec.status else status),
            headers=[("Content-Type", "application/json")],
            body=body.encode(),
        )

    def invoke(self, environ: Mapping[str, Any], body: bytes) -> HttpResponse:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        found = self.match(method, raw_path(environ))
        if found is None:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
        function = self.api.functions[found.route.function]
        event = build_event(
            environ, body, resource=found.route.path, path_parameters=found.path_parameters, stage=self.api.stage
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
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            answer = self.gateway_response("REQUEST_TOO_LARGE", 413, "Request Too Long")
        else:
            body = environ["wsgi.input"].read(length) if length else b""
            answer = self.invoke(environ, body)
        reason = REASONS.get(answer.status, "")
        start_response(f"{answer.status} {reason}".strip(), answer.headers)
        return [answer.body]


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
