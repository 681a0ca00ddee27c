"""Fixtures of the domain-check tests: a migrated ``AIRFLOW_HOME``; the test DAGs folder on the path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[1] / "dags"
if str(DAGS) not in sys.path:
    sys.path.insert(0, str(DAGS))

import _harness  # noqa: E402


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("airflow_home_domain")
    _harness.migrate(home)
    return home
