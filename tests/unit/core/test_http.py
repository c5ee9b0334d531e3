import json

import pytest

from simple_api.errors import ConfigurationError, DomainError, InvalidInput, SecretUnavailable
from simple_api.http import STATUS_BY_ERROR, endpoint, error_response, path_parameter, response
from tests.conftest import emitted_metrics, output_records


def test_text_and_json_responses():
    assert response(200, "hi") == {
        "statusCode": 200,
        "headers": {"Content-Type": "text/plain; charset=utf-8"},
        "body": "hi",
        "isBase64Encoded": False,
    }
    answer = response(200, {"a": 1})
    assert answer["headers"]["Content-Type"] == "application/json" and json.loads(answer["body"]) == {"a": 1}


@pytest.mark.parametrize(
    ("error", "status"),
    [(InvalidInput("bad"), 400), (SecretUnavailable("gone"), 503), (ConfigurationError("cfg"), 500)],
)
def test_one_mapping_from_domain_errors_to_status(error, status):
    answer = error_response(error)
    assert answer["statusCode"] == status
    assert json.loads(answer["body"]) == {"error": error.code, "message": error.message}


def test_every_domain_error_has_a_mapped_status():
    assert set(DomainError.__subclasses__()) <= set(STATUS_BY_ERROR) | {
        cls for cls in DomainError.__subclasses__() if cls.__module__ != "simple_api.errors"
    }


def test_unknown_domain_error_subclass_is_a_500():
    class Odd(DomainError):
        code = "Odd"

    assert error_response(Odd("x"))["statusCode"] == 500


@pytest.mark.parametrize(
    ("event", "value"),
    [
        ({"pathParameters": {"seconds": "1"}}, "1"),
        ({"pathParameters": None}, None),
        ({}, None),
        ({"pathParameters": {"seconds": 1}}, None),
        ({"pathParameters": ["x"]}, None),
    ],
)
def test_path_parameter_tolerates_any_shape(event, value):
    assert path_parameter(event, "seconds") == value


def test_unexpected_exception_is_a_bare_500_logged_with_a_fault_metric(lambda_context, capsys):
    @endpoint
    def broken(event, context):
        raise RuntimeError("database password is hunter2")

    answer = broken({}, lambda_context)
    assert answer["statusCode"] == 500
    assert json.loads(answer["body"]) == {"error": "InternalError", "message": "internal error"}
    assert "hunter2" not in answer["body"] and "Traceback" not in answer["body"]
    out = capsys.readouterr().out
    fault = emitted_metrics(out)["Fault"]
    assert fault["dimensions"] == [["environment", "runtime", "service", "function_name", "function_version"]]
    assert fault["record"]["function_version"] == "7"
    assert any(r.get("level") == "ERROR" and r.get("message") == "unhandled error" for r in output_records(out))


def test_invalid_input_is_logged_below_error_and_counted(lambda_context, capsys):
    from simple_api.observability import metrics

    @metrics.log_metrics
    @endpoint
    def picky(event, context):
        raise InvalidInput("no")

    assert picky({}, lambda_context)["statusCode"] == 400
    out = capsys.readouterr().out
    assert "InvalidInput" in emitted_metrics(out)
    assert "Fault" not in emitted_metrics(out)
    assert not any(r.get("level") == "ERROR" for r in output_records(out))
