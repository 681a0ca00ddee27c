"""Batch test fixtures: a migrated ``AIRFLOW_HOME``, generated documents, and a ``dag.test()`` runner.

Each DAG run is a fresh process (``tests/dags/_harness.py``) with ``AIRFLOW__CORE__DAGS_FOLDER`` set to
``tests/batch/dags`` and the connection as an ``AIRFLOW_CONN_*`` JSON variable, the only form the
in-process trigger's async lookup can see.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
HARNESS = HERE.parent / "dags"
if str(HARNESS) not in sys.path:
    sys.path.insert(0, str(HARNESS))

import _harness  # noqa: E402  (the one dag.test() runner of the DAG-level tests)

DagResult = _harness.DagResult
RunDag = Callable[..., DagResult]


@pytest.fixture(scope="session")
def batch_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("batch_airflow_home")
    _harness.migrate(home)
    return home


@pytest.fixture
def run_dag(dev: Any, batch_home: Path) -> RunDag:
    """``run_dag(dag_id, env={...}, clear_rerun=..., timeout=...)`` for ``tests/batch/dags``."""

    def run(dag_id: str, **kwargs: Any) -> DagResult:
        return _harness.run_dag(
            batch_home, dev.base_url, dev.api_key, dag_id, dags_folder=HERE / "dags", **kwargs
        )

    return run


def make_documents(folder: Path, count: int, suffix: str = ".txt") -> list[Path]:
    """``count`` small distinct documents (distinct content, hence distinct fingerprints)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"doc-{i:05d}{suffix}"
        path.write_text(f"Document {i}\nInvoice number INV-{i:05d}\nTotal: {i}.00 EUR\n")
        paths.append(path)
    return paths


def read_results(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
