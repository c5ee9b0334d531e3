"""Where the contract suite runs: a host this fixture starts (default), --base-url, or --stack-name."""

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from host.local import free_port, running

LOCAL_SECRET = "contract-suite-secret-value-0042"


@dataclass(frozen=True)
class Target:
    base_url: str
    secret: str  # present | absent | any
    max_sleep: float
    secret_value: str | None = None


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: str

    def json(self) -> dict[str, object]:
        document = json.loads(self.body)
        assert isinstance(document, dict), self.body
        return document


def fetch(target: Target, path: str, method: str = "GET", timeout: float = 60) -> Reply:
    """One request; ``path`` is sent exactly as given (already percent-encoded where needed)."""
    request = urllib.request.Request(target.base_url + path, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Reply(answer.status, answer.headers.get("Content-Type", ""), answer.read().decode())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers.get("Content-Type", ""), error.read().decode())


def _stack_url(stack: str) -> str:
    import boto3

    outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    return str(next(o["OutputValue"] for o in outputs if o["OutputKey"] == "ApiUrl"))


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    option = request.config.getoption
    max_sleep = float(option("--max-sleep"))
    if option("--base-url"):
        yield Target(str(option("--base-url")).rstrip("/"), option("--secret") or "any", max_sleep)
    elif option("--stack-name"):
        yield Target(_stack_url(str(option("--stack-name"))).rstrip("/"), option("--secret") or "present", max_sleep)
    else:
        previous = os.environ.get("LOCAL_SECRET")
        os.environ["LOCAL_SECRET"] = LOCAL_SECRET
        try:
            with running(free_port(), free_port(), quiet=True) as api:
                yield Target(api.url, "present", max_sleep, secret_value=LOCAL_SECRET)
        finally:
            os.environ.pop("LOCAL_SECRET")
            if previous is not None:
                os.environ["LOCAL_SECRET"] = previous
