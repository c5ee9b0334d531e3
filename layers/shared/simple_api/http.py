"""The one mapping from core results and domain errors to API Gateway proxy responses.

A core call returns ``str`` (sent as text/plain) or a mapping (sent as JSON). A DomainError becomes
``{"error": code, "message": message}`` with the status from ``STATUS_BY_ERROR``; anything else is a
fault: logged with its traceback, answered with a bare 500 that names nothing internal. Every 5xx
also emits a ``Fault`` metric tagged with the function version, which the CodeDeploy alarms of a
canary watch.
"""

import json
from collections.abc import Callable, Mapping
from functools import wraps
from http import HTTPStatus
from typing import Any

from simple_api.errors import ConfigurationError, DomainError, InvalidInput, SecretUnavailable, UpstreamError
from simple_api.observability import MetricUnit, count_metric, logger, metrics

type ProxyEvent = Mapping[str, Any]
type ProxyResponse = dict[str, Any]
type CoreResult = str | Mapping[str, Any]
type LambdaHandler = Callable[[ProxyEvent, Any], ProxyResponse]

STATUS_BY_ERROR: dict[type[DomainError], HTTPStatus] = {
    InvalidInput: HTTPStatus.BAD_REQUEST,
    SecretUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    ConfigurationError: HTTPStatus.INTERNAL_SERVER_ERROR,
    UpstreamError: HTTPStatus.BAD_GATEWAY,
}
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


def response(status: int, body: CoreResult) -> ProxyResponse:
    """A REST proxy response: strings as text, mappings as JSON."""
    is_text = isinstance(body, str)
    return {
        "statusCode": int(status),
        "headers": {"Content-Type": TEXT if is_text else JSON},
        "body": body if isinstance(body, str) else json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def status_for(error: DomainError) -> HTTPStatus:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return HTTPStatus.INTERNAL_SERVER_ERROR


def error_response(error: DomainError) -> ProxyResponse:
    return response(status_for(error), {"error": error.code, "message": error.message})


def path_parameter(event: ProxyEvent, name: str) -> str | None:
    """A path parameter of a REST proxy event, or None when absent."""
    params = event.get("pathParameters") or {}
    value = params.get(name) if isinstance(params, Mapping) else None
    return value if isinstance(value, str) else None


#: set on requests our own checks send: the PreTraffic/PostTraffic hooks (in the event's
#: requestContext, which API Gateway never lets a caller write) and the Synthetics canary (a header)
SYNTHETIC_CONTEXT_KEY = "synthetic"
SYNTHETIC_HEADER = "x-synthetic-traffic"


def traffic(event: ProxyEvent) -> str:
    """``synthetic`` for our own checks, ``user`` for everyone else. A user who sends the header only
    hides their own bad requests from the invalid-input alarm; nothing else depends on it."""
    context = event.get("requestContext")
    if isinstance(context, Mapping) and context.get(SYNTHETIC_CONTEXT_KEY):
        return "synthetic"
    headers = event.get("headers")
    if isinstance(headers, Mapping) and any(str(k).lower() == SYNTHETIC_HEADER for k in headers):
        return "synthetic"
    return "user"


def _fault(context: Any) -> None:
    count_metric(
        "Fault",
        function_name=str(getattr(context, "function_name", "local")),
        function_version=str(getattr(context, "function_version", "$LATEST")),
    )


def endpoint(core_call: Callable[[ProxyEvent, Any], CoreResult]) -> LambdaHandler:
    """Wrap a handler body that returns a core result; apply the one error mapping."""

    @wraps(core_call)
    def handler(event: ProxyEvent, context: Any) -> ProxyResponse:
        try:
            return response(HTTPStatus.OK, core_call(event, context))
        except DomainError as error:
            status = status_for(error)
            origin = traffic(event)
            log = logger.error if status >= HTTPStatus.INTERNAL_SERVER_ERROR else logger.info
            log("request failed", error=error.code, status=int(status), detail=error.detail, traffic=origin)
            # a client error of our own checks is expected (they send bad input on purpose); a
            # server-side failure counts whoever asked
            if error.metric and (origin == "user" or status >= HTTPStatus.INTERNAL_SERVER_ERROR):
                metrics.add_metric(name=error.metric, unit=MetricUnit.Count, value=1)
            if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
                _fault(context)
            return error_response(error)
        except Exception:
            logger.exception("unhandled error")
            _fault(context)
            return response(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "InternalError", "message": "internal error"})

    return handler
