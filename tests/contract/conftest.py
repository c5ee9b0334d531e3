"""Where the contract suite runs: a host this fixture starts (default), --base-url, or every URL
output of --stack-name (ApiUrl, and Ec2Url / FargateUrl when the stack has those variants)."""

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import pytest

from host.local import free_port, running
from scripts.chalice_local import serving
from tests import http
from tests.conftest import CALLER_ENVIRONMENT

LOCAL_SECRET = "contract-suite-secret-value-0042"


@dataclass(frozen=True)
class Target:
    base_url: str
    secret: str  # present | absent | any
    max_sleep: float
    secret_value: str | None = None
    serial: bool = False  # one request at a time per function (sam local)
    #: API Gateway hands the function percent-decoded path parameters; chalice local passes them
    #: as they were sent (aws/chalice#511), so a value that needs quoting cannot echo there
    decodes_path_parameters: bool = True


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: str

    def json(self) -> dict[str, object]:
        document = json.loads(self.body)
        assert isinstance(document, dict), self.body
        return document


_clients = threading.local()


def fetch(target: Target, path: str, method: str = "GET", timeout: float = 60) -> Reply:
    """One request; ``path`` is sent exactly as given (already percent-encoded where needed)."""
    if not hasattr(_clients, "session"):  # a Session per thread: the concurrency test sends from several
        _clients.session = http.session()
    answer = http.send(_clients.session, method, target.base_url + path, timeout=timeout)
    return Reply(answer.status_code, answer.headers.get("Content-Type", ""), answer.content.decode())


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


#: what the suite starts itself when given no URL: the host (the SAM flavour's handlers) and chalice local
LOCAL_TARGETS = ("host", "chalice-local")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" not in metafunc.fixturenames or metafunc.config.getoption("--base-url"):
        return
    stack = metafunc.config.getoption("--stack-name")
    if stack:
        urls = stack_urls(str(stack))
        metafunc.parametrize("target", list(urls.values()), ids=list(urls), indirect=True, scope="session")
    else:
        metafunc.parametrize("target", LOCAL_TARGETS, indirect=True, scope="session")


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
        start = serving if request.param == "chalice-local" else running
        try:
            with start(free_port(), free_port(), quiet=True) as api:
                yield Target(
                    api.url,
                    "present",
                    max_sleep,
                    secret_value=LOCAL_SECRET,
                    decodes_path_parameters=request.param != "chalice-local",
                )
        finally:
            os.environ.pop("LOCAL_SECRET")
            if previous is not None:
                os.environ["LOCAL_SECRET"] = previous
