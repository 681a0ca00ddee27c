"""Shared test fixtures: a real dev server process on a free loopback port.

``devserver`` (session) starts one server for the whole run; ``dev`` hands the same server to a
test after resetting its faults and stats; ``start_devserver(*args)`` starts a private one (for
restarts, other limits or keys). ``invoice_set`` (session) is the generated invoices the suite
runs on (``tests/invoices.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_vlm.devserver import process
from tests.invoices import InvoiceSet, generated

#: ``--wait-report``: wall and CPU time per test directory.
pytest_plugins = ["tests._wait_report"]

ROOT = Path(__file__).resolve().parents[1]
#: The example DAGs folder (also the home of the demo material, ``vlm_demo``).
EXAMPLES = ROOT / "example_dags"

START_TIMEOUT = 30.0
DEFAULT_ARGS = ("--port", "0", "--processing-time", "1", "--seed", "7", "--api-key", "test-key")


class DevServerHandle:
    """A running dev server: its base URL, key, process, and the admin routes as methods."""

    def __init__(self, server: process.RunningServer, api_key: str) -> None:
        self.server = server
        self.process = server.process
        self.base_url = server.base_url
        self.api_key = api_key
        self._admin = httpx.Client(base_url=self.base_url, timeout=10.0)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client with the base URL and key set."""
        kwargs.setdefault("timeout", 30.0)
        return httpx.Client(base_url=self.base_url, headers=self.headers, **kwargs)

    def faults(self, **settings: Any) -> dict[str, Any]:
        response = self._admin.post("/_dev/faults", json=settings)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def reset(self, state: bool = False) -> None:
        self._admin.post("/_dev/reset", json={"state": state}).raise_for_status()

    def stats(self) -> dict[str, Any]:
        response = self._admin.get("/_dev/stats")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait, SIGKILL if it hangs; returns the exit code."""
        self._admin.close()
        return self.server.stop(timeout)


def _api_key(args: tuple[str, ...]) -> str:
    keys = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--api-key"]
    return keys[0] if keys else "dev-key"


def launch_devserver(*args: str) -> DevServerHandle:
    """Start ``python -m airflow_provider_vlm.devserver ARGS`` (free port unless ``--port``)."""
    argv = args or DEFAULT_ARGS
    return DevServerHandle(process.start(*argv, start_timeout=START_TIMEOUT), _api_key(tuple(argv)))


@contextlib.contextmanager
def _started(*args: str) -> Iterator[DevServerHandle]:
    handle = launch_devserver(*args)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def devserver() -> Iterator[DevServerHandle]:
    """One dev server for the session: ``--port 0 --processing-time 1 --seed 7 --api-key test-key``."""
    with _started(*DEFAULT_ARGS) as handle:
        yield handle


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "processing_time(seconds): the simulated processing time the `dev` fixture sets for this "
        "test (the session's server otherwise takes 1 s a prediction)",
    )


@pytest.fixture
def dev(devserver: DevServerHandle, request: pytest.FixtureRequest) -> DevServerHandle:
    """The session's dev server with faults and stats cleared for this test.

    A ``processing_time(seconds)`` marker (on the test, its class or its module) sets the
    simulated processing time: a test that does not exercise waiting need not wait.
    """
    devserver.reset()
    marker = request.node.get_closest_marker("processing_time")
    if marker is not None:
        devserver.faults(processing_time=float(marker.args[0]))
    return devserver


@pytest.fixture(scope="session")
def start_devserver() -> Callable[..., contextlib.AbstractContextManager[DevServerHandle]]:
    """``with start_devserver("--processing-time", "0", ...) as server:`` a private server, stopped at exit."""
    return _started


@pytest.fixture(scope="session")
def invoice_set() -> InvoiceSet:
    """The generated, seeded invoices (``tests/invoices.py``), written once per session."""
    return generated()
