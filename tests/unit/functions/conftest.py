"""The handlers, by folder name (the AWS fixtures live in tests/conftest.py), and CloudFormation's
side of a custom resource (a ResponseURL served on 127.0.0.1 over HTTPS)."""

import importlib
import json
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
import trustme
from botocore.stub import Stubber

from simple_api.adapters.deployment import CodeDeployHooks
from tests.conftest import SECRET_VALUE

__all__ = ["SECRET_VALUE", "STACK", "TOKEN", "CloudFormation", "expect_report", "handler"]

TOKEN = "arn:aws:lambda:us-east-1:123456789012:function:writer"
STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/aws-cicd-dev/1a2b3c4d-0000-1111-2222-333344445555"


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


@dataclass
class CloudFormation:
    """What CloudFormation sends a custom resource (the test module's RESOURCE_TYPE and LOGICAL_ID)
    and every answer the resource PUT to the ResponseURL."""

    url: str
    answers: list[dict[str, Any]]
    received: threading.Event
    resource_type: str
    logical_id: str

    def event(self, request_type: str, properties: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        return {
            "RequestType": request_type,
            "ResponseURL": f"{self.url}/response/{uuid.uuid4()}?X-Amz-Signature=abc",
            "StackId": STACK,
            "RequestId": str(uuid.uuid4()),
            "ResourceType": self.resource_type,
            "LogicalResourceId": self.logical_id,
            "ResourceProperties": {"ServiceToken": TOKEN, **(properties or {})},
            **extra,
        }


@pytest.fixture
def cloudformation(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> Iterator[CloudFormation]:
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # crhelper verifies the response URL's certificate
    answers: list[dict[str, Any]] = []
    received = threading.Event()

    class ResponseUrl(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            answers.append({"path": self.path, "body": json.loads(body), "raw": body.decode()})
            received.set()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), ResponseUrl)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}"
        yield CloudFormation(url, answers, received, request.module.RESOURCE_TYPE, request.module.LOGICAL_ID)
    finally:
        server.shutdown()
        server.server_close()
