"""DAG-level fixtures: an isolated, migrated ``AIRFLOW_HOME`` per session and a ``dag.test()`` runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from vlm_dag_support import INVOICE, RunDag, _harness, runner


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("airflow_home")
    _harness.migrate(home)
    return home


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "not-a-pdf.pdf"
    path.write_text("this is not a PDF\n")
    return path


@pytest.fixture
def run_dag(dev: Any, airflow_home: Path, bad_file: Path) -> RunDag:
    """``run_dag(dag_id, conf=..., clear_rerun=...)`` against the session's dev server."""
    assert INVOICE.exists(), INVOICE
    return runner(airflow_home, dev.base_url, dev.api_key, bad_file)
