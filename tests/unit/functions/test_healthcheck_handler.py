from tests.factories import load_event
from tests.unit.functions.conftest import handler


def test_healthcheck_says_hello(lambda_context):
    answer = handler("healthcheck")(load_event("healthcheck_get.json"), lambda_context)
    assert (answer["statusCode"], answer["body"]) == (200, "Hello World!")


def test_healthcheck_ignores_whatever_else_the_event_carries(lambda_context):
    event = load_event("healthcheck_get.json")
    event.update(body="x" * 10_000, queryStringParameters={"a": "b"}, headers=None, multiValueHeaders=None)
    assert handler("healthcheck")(event, lambda_context)["body"] == "Hello World!"
