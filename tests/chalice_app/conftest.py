"""The Chalice flavour in-process: its app object and chalice.test's client on its dev stage."""

from collections.abc import Iterator

import pytest
from chalice.test import Client

from chalice_app import app as chalice_module
from tests.factories import ROOT

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
