import pytest

from simple_api.services.smoke import Case, parse_targets, problem, run

TEXT = Case(function="home", fixture="home_get.json", event={}, status=200, body="Welcome to my home")
JSON = Case(
    function="sleep",
    fixture="sleep_hello.json",
    event={},
    status=400,
    json={"error": "InvalidInput"},
    json_keys=frozenset({"error", "message"}),
)


@pytest.mark.parametrize(
    ("case", "answer", "found"),
    [
        (TEXT, {"statusCode": 200, "body": "Welcome to my home"}, None),
        (TEXT, {"statusCode": 500, "body": "Welcome to my home"}, "status 500, expected 200"),
        (TEXT, {"statusCode": 200, "body": "Welcome"}, "body 'Welcome'"),
        (TEXT, {}, "status None"),
        (JSON, {"statusCode": 400, "body": '{"error": "InvalidInput", "message": "m"}'}, None),
        (JSON, {"statusCode": 400, "body": "not json"}, "not a JSON object"),
        (JSON, {"statusCode": 400, "body": "[1]"}, "not a JSON object"),
        (JSON, {"statusCode": 400, "body": None}, "not a JSON object"),
        (JSON, {"statusCode": 400, "body": '{"error": "InvalidInput"}'}, "JSON keys ['error']"),
        (JSON, {"statusCode": 400, "body": '{"error": "Other", "message": "m"}'}, "error='Other'"),
    ],
)
def test_problem_names_what_differs(case, answer, found):
    result = problem(case, answer)
    assert result is None if found is None else (result is not None and found in result)


def test_parse_targets():
    assert parse_targets(" home=arn:a:1 , sleep=arn:b:2") == {"home": "arn:a:1", "sleep": "arn:b:2"}
    for text in (None, "", "home", "home=", "=arn", "home=a,,sleep=b"):
        with pytest.raises(ValueError, match="name=arn"):
            parse_targets(text)


def test_run_with_nothing_to_run_is_a_problem():
    assert run([TEXT], {}, lambda arn, event: {}) == ["no case ran"]


def test_run_skips_cases_whose_precondition_does_not_hold():
    only_locally = Case(function="home", fixture="home_x.json", event={}, status=503, needs="no-secret")
    assert (
        run([TEXT, only_locally], {"home": "arn"}, lambda arn, event: {"statusCode": 200, "body": "Welcome to my home"})
        == []
    )
