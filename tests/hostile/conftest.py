"""The hostile-traffic tier's target: the host as `make run` starts it (host.local.running: moto and
gunicorn on 127.0.0.1, the default), or --base-url (the container tier passes its container's port).
Loopback only; every load is bounded in connections and time."""

from collections.abc import Iterator
from typing import Any

import pytest

from host.local import running
from tests.hostile.wire import MEASURED


@pytest.fixture(scope="session")
def base_url(request: pytest.FixtureRequest) -> Iterator[str]:
    given = request.config.getoption("--base-url")
    if given:
        yield str(given).rstrip("/")
        return
    with running(0, 0, quiet=True) as api:
        yield api.url


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MEASURED:
        terminalreporter.section("health under load")
        for line in MEASURED:
            terminalreporter.write_line(line)
