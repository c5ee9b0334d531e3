"""Handler-level fixtures: the AWS the secret function sees (moto), and the handlers themselves."""

import importlib
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import SECRET_NAME

SECRET_VALUE = "correct-horse-battery-staple-42"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A fresh moto account; the secret function is configured to read SECRET_NAME."""
    monkeypatch.setenv("SECRET_PARAMETER_NAME", SECRET_NAME)
    with mock_aws():
        importlib.import_module("functions.secret.handler")._store.cache_clear()
        kms = boto3.client("kms")
        yield {"ssm": boto3.client("ssm"), "key": kms.create_key()["KeyMetadata"]["KeyId"]}
        importlib.import_module("functions.secret.handler")._store.cache_clear()


@pytest.fixture
def secret(aws: dict[str, Any]) -> str:
    aws["ssm"].put_parameter(Name=SECRET_NAME, Value=SECRET_VALUE, Type="SecureString", KeyId=aws["key"])
    return SECRET_VALUE


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record requested sleeps instead of sleeping."""
    slept: list[float] = []
    monkeypatch.setattr("simple_api.services.sleep.time.sleep", slept.append)
    return slept


def handler(function: str) -> Callable[..., dict[str, Any]]:
    module = importlib.import_module(f"functions.{function}.handler")
    return module.lambda_handler  # type: ignore[no-any-return]
