import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SSMProvider
from botocore.stub import Stubber
from moto import mock_aws

from simple_api.adapters.ssm import SsmSecretStore
from simple_api.errors import SecretUnavailable

NAME = "/simple-api/dev/secret"


@pytest.fixture
def aws():
    with mock_aws():
        kms = boto3.client("kms")
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        yield {"ssm": boto3.client("ssm"), "key": key}


def test_reads_and_decrypts_a_secure_string(aws):
    aws["ssm"].put_parameter(Name=NAME, Value="s3cr3t", Type="SecureString", KeyId=aws["key"])
    assert SsmSecretStore(max_age_seconds=60).read(NAME) == "s3cr3t"


def test_missing_parameter_is_unavailable_with_a_value_free_reason(aws):
    with pytest.raises(SecretUnavailable) as caught:
        SsmSecretStore(max_age_seconds=60).read(NAME)
    assert caught.value.detail == "ssm get_parameter failed: ParameterNotFound"
    assert caught.value.message == "the secret is not available"


def _stubbed(code: str) -> SsmSecretStore:
    client = boto3.client("ssm")
    stubber = Stubber(client)
    stubber.add_client_error("get_parameter", service_error_code=code, http_status_code=400)
    stubber.activate()
    return SsmSecretStore(max_age_seconds=60, provider=SSMProvider(boto3_client=client))


@pytest.mark.parametrize(
    "code",
    ["ThrottlingException", "AccessDeniedException", "InvalidKeyId", "KMSAccessDeniedException", "InternalServerError"],
)
def test_sdk_errors_become_unavailable(code):
    with pytest.raises(SecretUnavailable) as caught:
        _stubbed(code).read(NAME)
    assert caught.value.detail == f"ssm get_parameter failed: {code}"


def test_unreachable_endpoint_fails_fast(monkeypatch):
    import time

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    start = time.monotonic()
    with pytest.raises(SecretUnavailable) as caught:
        SsmSecretStore(max_age_seconds=60).read(NAME)
    assert caught.value.detail == "ssm get_parameter failed: EndpointConnectionError"
    assert time.monotonic() - start < 20


def test_value_is_cached_for_max_age():
    client = boto3.client("ssm")
    stubber = Stubber(client)
    stubber.add_response(
        "get_parameter",
        {"Parameter": {"Name": NAME, "Type": "SecureString", "Value": "v1", "Version": 1}},
        {"Name": NAME, "WithDecryption": True},
    )
    stubber.activate()
    store = SsmSecretStore(max_age_seconds=300, provider=SSMProvider(boto3_client=client))
    assert store.read(NAME) == "v1"
    assert store.read(NAME) == "v1"  # a second SSM call would fail: the stubber holds one answer
    stubber.assert_no_pending_responses()
