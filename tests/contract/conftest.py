"""Where the contract suite runs: a host this fixture starts (default), --base-url, or every URL
output of --stack-name (ApiUrl, and Ec2Url / FargateUrl when the stack has those variants)."""

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import pytest

from host.local import free_port, running
from tests.conftest import CALLER_ENVIRONMENT

LOCAL_SECRET = "contract-suite-secret-value-0042"


@dataclass(frozen=True)
class Target:
    base_url: str
    secret: str  # present | absent | any
    max_sleep: float
    secret_value: str | None = None
    serial: bool = False  # one request at a time per function (sam local)


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


URL_OUTPUTS = ("ApiUrl", "Ec2Url", "FargateUrl")


@contextmanager
def _caller_environment() -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(CALLER_ENVIRONMENT)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@cache
def stack_urls(stack: str) -> dict[str, str]:
    """The stack's URL outputs that are present, in URL_OUTPUTS order; ApiUrl must be one."""
    import boto3

    with _caller_environment():  # the caller's credentials and endpoint, not the unit tests' fakes
        outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    values = {o["OutputKey"]: str(o["OutputValue"]) for o in outputs}
    if "ApiUrl" not in values:
        raise pytest.UsageError(f"stack {stack} has no ApiUrl output")
    return {key: values[key] for key in URL_OUTPUTS if key in values}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    stack = metafunc.config.getoption("--stack-name")
    if stack and "target" in metafunc.fixturenames:
        urls = stack_urls(str(stack))
        metafunc.parametrize("target", list(urls.values()), ids=list(urls), indirect=True, scope="session")


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    option = request.config.getoption
    max_sleep = float(option("--max-sleep"))
    if option("--base-url"):
        base_url = str(option("--base-url")).rstrip("/")
        yield Target(base_url, option("--secret") or "any", max_sleep, serial=bool(option("--serial")))
    elif option("--stack-name"):
        yield Target(str(request.param).rstrip("/"), option("--secret") or "present", max_sleep)
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
