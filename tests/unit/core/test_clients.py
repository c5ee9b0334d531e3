"""The adapters' shared botocore pieces: fail-fast configuration and value-free error codes."""

from botocore.exceptions import ClientError

from simple_api.adapters.clients import client_config, error_code


def _client_error(code: str, message: str = "value: hunter2") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Operation")


class Wrapped(Exception):
    """What a library raises around the SDK's error (as Powertools' GetParameterError does)."""


def test_the_code_of_the_error_itself_comes_first():
    try:
        try:
            raise ValueError("earlier")
        except ValueError:
            raise _client_error("ThrottlingException") from None
    except ClientError as error:
        assert error_code(error) == "ThrottlingException"


def test_a_wrapped_sdk_error_gives_its_cause_code_never_a_message():
    try:
        try:
            raise _client_error("AccessDeniedException")
        except ClientError as cause:
            raise Wrapped("value: hunter2") from cause
    except Wrapped as error:
        assert error_code(error) == "AccessDeniedException"


def test_without_any_aws_response_the_type_name_stands_in():
    try:
        try:
            raise ConnectionError("refused")
        except ConnectionError as cause:
            raise Wrapped("boom") from cause
    except Wrapped as error:
        assert error_code(error) == "ConnectionError"
    assert error_code(KeyError("x")) == "KeyError"


def test_the_configuration_bounds_time_and_retries():
    config = client_config(connect_timeout=2, read_timeout=3, max_attempts=4)
    assert (config.connect_timeout, config.read_timeout) == (2, 3)
    assert config.retries == {"mode": "standard", "max_attempts": 4}
