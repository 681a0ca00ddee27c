"""Batch test fixtures: a migrated ``AIRFLOW_HOME``, generated documents, and a ``dag.test()`` runner.

Each DAG run is a fresh process (``_run_dag.py``) with ``AIRFLOW__CORE__DAGS_FOLDER`` set to
``tests/batch/dags`` and the connection as an ``AIRFLOW_CONN_*`` JSON variable, the only form the
in-process trigger's async lookup can see.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "_run_dag.py"
MARKER = "VLM-RESULT "


@dataclass
class DagResult:
    returncode: int
    output: str
    state: str | None = None
    tasks: list[dict[str, Any]] = field(default_factory=list)
    xcoms: list[dict[str, Any]] = field(default_factory=list)
    task_state: list[dict[str, Any]] = field(default_factory=list)

    def task(self, task_id: str) -> dict[str, Any]:
        found = [t for t in self.tasks if t["task_id"] == task_id]
        assert found, f"no task instance {task_id} in {self.tasks}\n{self.tail()}"
        return found[0]

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        return next((x["value"] for x in self.xcoms if x["task_id"] == task_id and x["key"] == key), None)

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def airflow_env(
    home: Path, base_url: str, api_key: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    conn = {"conn_type": "vlm", "host": base_url, "password": api_key, "extra": {"max_retries": 3}}
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(HERE / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_VLM_DEFAULT": json.dumps(conn),
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra or {})
    return env


RunDag = Callable[..., DagResult]


@pytest.fixture(scope="session")
def batch_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("batch_airflow_home")
    env = airflow_env(home, "http://127.0.0.1:9", "unused")
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return home


@pytest.fixture
def run_dag(dev: Any, batch_home: Path) -> RunDag:
    """``run_dag(dag_id, env={...}, timeout=...)`` against the session's dev server."""

    def run(
        dag_id: str, *, env: dict[str, str] | None = None, clear_rerun: bool = False, timeout: float = 150.0
    ) -> DagResult:
        proc = subprocess.run(
            [sys.executable, str(RUNNER), dag_id, *(["--clear-rerun"] if clear_rerun else [])],
            env=airflow_env(batch_home, dev.base_url, dev.api_key, env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        result = DagResult(proc.returncode, proc.stdout + proc.stderr)
        for line in proc.stdout.splitlines():
            if line.startswith(MARKER):
                data = json.loads(line[len(MARKER) :])
                result.state = data["state"]
                result.tasks = data["tasks"]
                result.xcoms = data["xcoms"]
                result.task_state = data["task_state"]
        return result

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
