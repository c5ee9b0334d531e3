"""HTTP <-> API Gateway REST proxy (payload 1.0), field for field as `sam local generate-event
apigateway aws-proxy` shows it."""

import base64
import binascii
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

ACCOUNT_ID = "123456789012"
API_ID = "local"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class MalformedResponse(Exception):
    """The handler returned something API Gateway would reject (answered 502)."""


@cache
def _header_name(key: str) -> str:
    """WSGI's HTTP_X_AMZ_DATE -> X-Amz-Date (WSGI loses the original case; this is the usual one)."""
    return "-".join(part.capitalize() for part in key.split("_"))


def request_headers(environ: Mapping[str, Any]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = _header_name(key[5:])
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = _header_name(key)
        else:
            continue
        headers.setdefault(name, []).append(str(value))
    return headers


def query_parameters(query: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        values.setdefault(key, []).append(value)
    return values


def _body(raw: bytes) -> tuple[str | None, bool]:
    if not raw:
        return None, False
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), True


@cache
def _resource_id(method: str, resource: str) -> str:
    """A stable 6-character id per method and resource, like API Gateway's."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{method} {resource}").hex[:6]


def raw_path(environ: Mapping[str, Any]) -> str:
    """The request path still percent-encoded (so an encoded slash stays inside its segment)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        path = str(raw).split("?", 1)[0].split("#", 1)[0]
        if "://" in path:  # absolute-form request target
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        return path or "/"
    decoded = str(environ.get("PATH_INFO", "/")).encode("latin-1").decode("utf-8", errors="replace")
    return quote(decoded, safe="/") or "/"


def source_ip(headers: Mapping[str, list[str]], peer: str, trusts: Callable[[str], bool]) -> str:
    """The client's address as the load balancer saw it: the last X-Forwarded-For entry, which the
    ALB appends (everything before it is whatever the client sent), when the peer is a trusted proxy;
    otherwise the peer itself. A client that reaches the host directly cannot choose its address."""
    if not trusts(peer):
        return peer
    entries = [e.strip() for value in headers.get("X-Forwarded-For", []) for e in value.split(",")]
    return next((e for e in reversed(entries) if e), peer)


def _nobody(peer: str) -> bool:
    return False


def build_event(  # noqa: PLR0913 - the request's parts, each a keyword
    environ: Mapping[str, Any],
    body: bytes,
    *,
    resource: str,
    path_parameters: dict[str, str] | None,
    stage: str,
    trusts: Callable[[str], bool] = _nobody,
) -> dict[str, Any]:
    """The REST proxy event API Gateway would send for this WSGI request; ``trusts`` tells which
    peers' X-Forwarded-For is believed (see source_ip)."""
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    path = unquote(raw_path(environ), errors="replace")
    headers = request_headers(environ)
    query = query_parameters(str(environ.get("QUERY_STRING", "")))
    peer = str(environ.get("REMOTE_ADDR") or "127.0.0.1")
    now = time.time()
    text, is_base64 = _body(body)
    return {
        "body": text,
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "isBase64Encoded": is_base64,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "headers": {k: v[-1] for k, v in headers.items()},
        "multiValueHeaders": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "resourceId": _resource_id(method, resource),
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "accessKey": None,
                "sourceIp": source_ip(headers, peer, trusts),
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": headers.get("User-Agent", [None])[-1],
                "user": None,
            },
            "path": f"/{stage}{path}",
            "resourcePath": resource,
            "httpMethod": method,
            "apiId": API_ID,
            "protocol": str(environ.get("SERVER_PROTOCOL", "HTTP/1.1")),
        },
    }


def _strings(values: Any) -> Iterable[str]:
    if not isinstance(values, list):
        raise MalformedResponse("multiValueHeaders values must be lists")
    return (str(v) for v in values)


def http_response(answer: Any) -> HttpResponse:
    """A proxy response as HTTP; MalformedResponse where API Gateway would answer 502."""
    if (
        not isinstance(answer, dict)
        or not isinstance(answer.get("statusCode"), int)
        or isinstance(answer.get("statusCode"), bool)
    ):
        raise MalformedResponse("statusCode must be an integer")
    if not 100 <= answer["statusCode"] <= 599:
        raise MalformedResponse("statusCode out of range")
    headers: dict[str, list[str]] = {}
    for key, values in (answer.get("multiValueHeaders") or {}).items():
        headers.setdefault(str(key), []).extend(_strings(values))
    for key, value in (answer.get("headers") or {}).items():
        headers[str(key)] = [str(value)]  # single-value headers win, as in API Gateway
    body = answer.get("body")
    if body is None:
        raw = b""
    elif not isinstance(body, str):
        raise MalformedResponse("body must be a string")
    elif answer.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as error:
            raise MalformedResponse("body is not valid base64") from error
    else:
        raw = body.encode("utf-8")
    pairs = [(name, value) for name, values in headers.items() for value in values]
    return HttpResponse(status=answer["statusCode"], headers=pairs, body=raw)
