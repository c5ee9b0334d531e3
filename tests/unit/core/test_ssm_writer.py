import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from simple_api.adapters.ssm import SsmParameterWriter
from simple_api.errors import UpstreamError

NAME = "/simple-api/dev/secret"


@pytest.fixture
def ssm():
    with mock_aws():
        key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
        yield boto3.client("ssm"), key


def test_put_creates_a_tagged_secure_string(ssm):
    client, key = ssm
    SsmParameterWriter().put(NAME, "v1", key, {"project": "aws-cicd"}, overwrite=False)
    parameter = client.get_parameter(Name=NAME, WithDecryption=True)["Parameter"]
    assert (parameter["Type"], parameter["Value"]) == ("SecureString", "v1")
    assert client.describe_parameters()["Parameters"][0]["KeyId"] == key
    tags = client.list_tags_for_resource(ResourceType="Parameter", ResourceId=NAME)["TagList"]
    assert tags == [{"Key": "project", "Value": "aws-cicd"}]


def test_put_without_overwrite_refuses_an_existing_parameter(ssm):
    client, key = ssm
    client.put_parameter(Name=NAME, Value="someone else's", Type="SecureString")
    with pytest.raises(UpstreamError, match="ParameterAlreadyExists"):
        SsmParameterWriter().put(NAME, "v1", key, {}, overwrite=False)


def test_overwrite_changes_the_value_and_keeps_the_tags_current(ssm):
    client, key = ssm
    writer = SsmParameterWriter()
    writer.put(NAME, "v1", key, {"a": "1"}, overwrite=False)
    writer.put(NAME, "v2", key, {"a": "2"}, overwrite=True)
    assert client.get_parameter(Name=NAME, WithDecryption=True)["Parameter"]["Value"] == "v2"
    tags = client.list_tags_for_resource(ResourceType="Parameter", ResourceId=NAME)["TagList"]
    assert tags == [{"Key": "a", "Value": "2"}]


def test_delete_reports_whether_there_was_something_to_delete(ssm):
    _, key = ssm
    writer = SsmParameterWriter()
    writer.put(NAME, "v1", key, {}, overwrite=False)
    assert writer.delete(NAME) is True
    assert writer.delete(NAME) is False


@pytest.mark.parametrize(
    "code",
    [
        "ThrottlingException",
        "AccessDeniedException",
        "InvalidKeyId",
        "KMSInvalidStateException",
        "ParameterLimitExceeded",
    ],
)
def test_sdk_errors_name_operation_and_code_only(code):
    client = boto3.client("ssm")
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "put_parameter", service_error_code=code, service_message="Value 'the-secret-value' at 'value' failed"
        )
        with pytest.raises(UpstreamError) as caught:
            SsmParameterWriter(client).put(NAME, "the-secret-value", "alias/x", {}, overwrite=False)
    assert caught.value.message == f"ssm put_parameter failed: {code}"
    assert "the-secret-value" not in str(caught.value)


def test_delete_errors_other_than_not_found_are_raised():
    client = boto3.client("ssm")
    with Stubber(client) as stubber:
        stubber.add_client_error("delete_parameter", service_error_code="AccessDeniedException")
        with pytest.raises(UpstreamError, match="delete_parameter failed: AccessDeniedException"):
            SsmParameterWriter(client).delete(NAME)
