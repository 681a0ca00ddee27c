"""Shared test fixtures: a real dev server process on a free loopback port.

``devserver`` (session) starts one server for the whole run; ``dev`` hands the same server to a
test after resetting its faults and stats; ``start_devserver(*args)`` starts a private one (for
restarts, other limits or keys).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
# Real invoices live beside the project (``../shared/data/invoices``), never inside it.
INVOICES = ROOT.parent / "shared" / "data" / "invoices"

READY_PREFIX = "VLM dev server ready: "
START_TIMEOUT = 30.0
DEFAULT_ARGS = ("--port", "0", "--processing-time", "1", "--seed", "7", "--api-key", "test-key")


class DevServerHandle:
    """A running dev server: its base URL, key, process, and the admin routes as methods."""

    def __init__(self, process: subprocess.Popen[str], base_url: str, api_key: str) -> None:
        self.process = process
        self.base_url = base_url
        self.api_key = api_key
        self._admin = httpx.Client(base_url=base_url, timeout=10.0)

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
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        return self.process.returncode


def _api_key(args: tuple[str, ...]) -> str:
    keys = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--api-key"]
    return keys[0] if keys else "dev-key"


def launch_devserver(*args: str) -> DevServerHandle:
    """Start ``python -m airflow_provider_vlm.devserver ARGS`` and wait for its ready line.

    Without ``--port`` in ARGS a free port is picked (``--port 0``).
    """
    argv = args or DEFAULT_ARGS
    if "--port" not in argv:
        argv = ("--port", "0", *argv)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_vlm.devserver", *argv],
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(START_TIMEOUT)
    line = found[0].strip() if found else ""
    if not line.startswith(READY_PREFIX):
        process.kill()
        process.wait()
        raise RuntimeError(f"dev server did not start (exit {process.returncode}); first line: {line!r}")
    # Keep draining stdout (an --access-log goes there): a full pipe would stall the server.
    threading.Thread(target=_drain, args=(process,), daemon=True).start()
    return DevServerHandle(process, line[len(READY_PREFIX) :], _api_key(tuple(argv)))


def _drain(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for _ in process.stdout:
        pass


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


@pytest.fixture
def dev(devserver: DevServerHandle) -> DevServerHandle:
    """The session's dev server with faults and stats cleared for this test."""
    devserver.reset()
    return devserver


@pytest.fixture(scope="session")
def start_devserver() -> Callable[..., contextlib.AbstractContextManager[DevServerHandle]]:
    """``with start_devserver("--processing-time", "0", ...) as server:`` a private server, stopped at exit."""
    return _started


@pytest.fixture(scope="session")
def invoices_dir() -> Path:
    """``INVOICES`` as a fixture, for test folders whose own conftest shadows this module's name."""
    return INVOICES
