"""The Chalice flavour in-process: its app object and chalice.test's client on its dev stage."""

import os
from collections.abc import Iterator

import pytest
from chalice.test import Client

_EXECUTION_ENV = os.environ.get("AWS_EXECUTION_ENV")
from chalice_app import app as chalice_module  # noqa: E402
from tests.factories import ROOT  # noqa: E402

# Chalice() tags AWS_EXECUTION_ENV (botocore's user agent) in os.environ; the other tests of this
# process must not run with it
if _EXECUTION_ENV is None:
    os.environ.pop("AWS_EXECUTION_ENV", None)
else:
    os.environ["AWS_EXECUTION_ENV"] = _EXECUTION_ENV

PROJECT = ROOT / "chalice_app"


@pytest.fixture(autouse=True)
def _fresh_secret_store() -> Iterator[None]:
    """Each test starts with a new container's secret store (its Powertools cache)."""
    chalice_module._store.cache_clear()
    yield
    chalice_module._store.cache_clear()


@pytest.fixture
def client() -> Iterator[Client]:
    """chalice.test's client: requests go through Chalice's local gateway, with the stage's environment."""
    with Client(chalice_module.app, stage_name="dev", project_dir=str(PROJECT)) as test_client:
        yield test_client
