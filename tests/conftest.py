"""Shared fixtures. The environment is set before any handler is imported, because Powertools
objects read it when they are built. Fake credentials make sure no test can reach a real account."""

import importlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from host.local import free_port, start_moto, stop

#: the caller's environment, for the one place that talks to a real account on purpose: the
#: contract suite reading a deployed stack's outputs (tests/contract/conftest.py)
CALLER_ENVIRONMENT = dict(os.environ)

for _variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "SECRET_PARAMETER_NAME", "HOST_RUNTIME"):
    os.environ.pop(_variable, None)
os.environ.update(
    {
        "POWERTOOLS_SERVICE_NAME": "simple-api",
        "POWERTOOLS_METRICS_NAMESPACE": "AwsCicd",
        "ENVIRONMENT": "dev",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
)

from aws_lambda_powertools.metrics.provider import cold_start  # noqa: E402

from simple_api.observability import logger, metrics  # noqa: E402
from simple_api.settings import get_settings  # noqa: E402

SECRET_NAME = "/simple-api/dev/secret"
SECRET_VALUE = "correct-horse-battery-staple-42"


@dataclass
class FakeLambdaContext:
    function_name: str = "aws-cicd-dev-HomeFunction-abc"
    function_version: str = "7"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:aws-cicd-dev-HomeFunction-abc:live"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contract", "contract suite target (tests/contract)")
    group.addoption("--base-url", default=None, help="run the contract suite against this URL")
    group.addoption(
        "--stack-name", default=None, help="...or against every URL output of this stack (ApiUrl, Ec2Url, FargateUrl)"
    )
    group.addoption(
        "--secret",
        choices=("present", "absent", "any"),
        default=None,
        help="what GET /secret must find (default: present for a started host or a stack, any for --base-url)",
    )
    group.addoption("--max-sleep", type=float, default=25.0, help="the target's MaxSleepSeconds")
    group.addoption(
        "--serial",
        action="store_true",
        help="the target serves one request at a time per function (sam local start-api): skip concurrency checks",
    )


@pytest.fixture
def local_s3() -> Iterator[str]:
    """moto's server on 127.0.0.1 (a free port), stopped after the test."""
    port = free_port()
    server = start_moto(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop([server])


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


class _CurrentStdout:
    """Powertools' log handler keeps the stream it was built with; this one follows sys.stdout,
    so pytest's capsys sees log lines and EMF metrics together, in order."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture(autouse=True)
def _logs_to_current_stdout() -> Iterator[None]:
    handler = logger.registered_handler
    previous = handler.setStream(_CurrentStdout())  # type: ignore[attr-defined]
    yield
    handler.setStream(previous)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _fresh_container(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts like a new Lambda container: settings unread, cold start, no metrics."""
    get_settings.cache_clear()
    cold_start.reset_cold_start_flag()
    metrics.clear_metrics()
    logger.thread_safe_clear_keys()
    yield
    get_settings.cache_clear()
    metrics.clear_metrics()


def output_records(text: str) -> list[dict[str, Any]]:
    """Every JSON line a handler printed (Powertools logs and EMF metrics both go to stdout)."""
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def emitted_metrics(text: str) -> dict[str, dict[str, Any]]:
    """Metric name -> its EMF record, for every metric in the printed output."""
    found = {}
    for record in output_records(text):
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive["Metrics"]:
                found[metric["Name"]] = {
                    "record": record,
                    "namespace": directive["Namespace"],
                    "dimensions": directive["Dimensions"],
                }
    return found


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A fresh moto account; the secret function is configured to read SECRET_NAME."""
    monkeypatch.setenv("SECRET_PARAMETER_NAME", SECRET_NAME)
    with mock_aws():
        importlib.import_module("functions.secret.handler")._store.cache_clear()
        kms = boto3.client("kms")
        yield {"ssm": boto3.client("ssm"), "key": kms.create_key()["KeyMetadata"]["KeyId"]}
        store = importlib.import_module("functions.secret.handler")._store
        if hasattr(store, "cache_clear"):  # a test may have replaced it
            store.cache_clear()


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
