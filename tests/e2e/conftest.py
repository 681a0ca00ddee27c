"""Register the ``e2e`` marker (select with ``-m e2e``; it also runs in the default test command)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives real Airflow processes (api-server, scheduler, ...)")
