"""The handlers, by folder name (the AWS fixtures live in tests/conftest.py)."""

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from simple_api.adapters.deployment import CodeDeployHooks
from tests.conftest import SECRET_VALUE

__all__ = ["SECRET_VALUE", "expect_report", "handler"]


def handler(function: str) -> Callable[..., dict[str, Any]]:
    module = importlib.import_module(f"functions.{function}.handler")
    return module.lambda_handler  # type: ignore[no-any-return]


@pytest.fixture
def codedeploy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """CodeDeploy for the hook the test module names in HOOK; every expected report must come."""
    client = boto3.client("codedeploy")
    stubber = Stubber(client)
    monkeypatch.setattr(f"functions.{request.module.HOOK}.handler.CodeDeployHooks", lambda: CodeDeployHooks(client))
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def expect_report(stubber: Stubber, hook_event: Mapping[str, str], status: str) -> None:
    stubber.add_response(
        "put_lifecycle_event_hook_execution_status",
        {"lifecycleEventHookExecutionId": hook_event["LifecycleEventHookExecutionId"]},
        {
            "deploymentId": hook_event["DeploymentId"],
            "lifecycleEventHookExecutionId": hook_event["LifecycleEventHookExecutionId"],
            "status": status,
        },
    )
