"""Every JSON error body a caller can get has one format: the compact JSON simple_api.http writes
(no spaces after separators), whether the handler, the host or API Gateway's gateway responses
produced it."""

import json

import pytest

from simple_api.errors import InvalidInput
from simple_api.http import error_response
from tests.templates.conftest import load_template

#: what API Gateway puts in for the variables our gateway response templates use
CONTEXT = {"$context.error.responseType": "THROTTLED", "$context.error.messageString": '"Too Many Requests"'}


def compact(body: str) -> str:
    return json.dumps(json.loads(body), separators=(",", ":"))


def gateway_bodies() -> dict[str, str]:
    responses = load_template()["Resources"]["Api"]["Properties"]["GatewayResponses"]
    return {name: r["ResponseTemplates"]["application/json"] for name, r in responses.items()}


@pytest.mark.parametrize(("name", "template"), sorted(gateway_bodies().items()))
def test_gateway_responses_are_compact_json_with_error_and_message(name, template):
    body = template
    for variable, value in CONTEXT.items():
        body = body.replace(variable, value)
    assert body == compact(body), name
    assert set(json.loads(body)) == {"error", "message"}


def test_handler_errors_are_compact_json():
    body = error_response(InvalidInput("seconds must be a number"))["body"]
    assert body == compact(body)
