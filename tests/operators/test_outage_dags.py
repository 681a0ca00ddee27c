"""Through real Airflow: status polls answer 503 for 60 s right after submitting; every wait completes.

Three ``dag.test()`` runs in parallel (deferrable operator, blocking operator, sensor), each
with a 3-minute deadline and no retries. The outage starts before the runs (so it covers each
submit's first status check) and is set to end 60 s after the dev server has seen all three
submits.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from vlm_dag_support import INVOICE, _harness

from tests.conftest import DevServerHandle

DAGS = ("vlm_outage_deferrable", "vlm_outage_blocking", "vlm_outage_sensor")
STATUS_READS = {"method": "GET", "path": "/predictions/*", "status": 503}
OUTAGE_AFTER_SUBMIT = 60.0

pytestmark = pytest.mark.timeout(420)


def _own_home(airflow_home: Path, tmp: Path) -> Path:
    """A copy of the migrated metadata DB: parallel runs do not contend for one SQLite file."""
    tmp.mkdir(parents=True)
    shutil.copy(airflow_home / "airflow.db", tmp / "airflow.db")
    return tmp


def _submits(dev: DevServerHandle) -> int:
    return int(dev.stats()["requests"].get("POST /document/generate", 0))


@pytest.fixture(scope="module")
def outage_runs(
    devserver: DevServerHandle, airflow_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, _harness.DagResult], float]]:
    dev = devserver
    dev.reset()
    dev.faults(rules=[STATUS_READS])  # until further notice: every status read fails
    base = tmp_path_factory.mktemp("outage")
    env = {"VLM_TEST_INVOICE": str(INVOICE)}

    def run(dag_id: str) -> _harness.DagResult:
        home = _own_home(airflow_home, base / dag_id)
        return _harness.run_dag(home, dev.base_url, dev.api_key, dag_id, env=env, timeout=360)

    with ThreadPoolExecutor(len(DAGS)) as pool:
        futures = {dag_id: pool.submit(run, dag_id) for dag_id in DAGS}
        while _submits(dev) < len(DAGS) and not any(f.done() for f in futures.values()):
            time.sleep(0.2)  # polling a condition, not a timed assertion
        outage_failures_seen = dev.stats()
        dev.faults(rules=[{**STATUS_READS, "seconds": OUTAGE_AFTER_SUBMIT}])
        ended_at = time.time() + OUTAGE_AFTER_SUBMIT
        results = {dag_id: f.result() for dag_id, f in futures.items()}
    assert _submits(dev) == len(DAGS), outage_failures_seen
    yield results, ended_at
    dev.reset()


def _check(result: _harness.DagResult, task_id: str) -> dict[str, Any]:
    assert result.state == "success", result.tail(120)
    task = result.task(task_id)
    assert task["state"] == "success" and task["try_number"] == 1, task
    record = result.xcom(task_id)
    assert record["status"] == "completed" and record["response"]
    return record


def test_deferrable_operator_rides_out_the_outage(outage_runs) -> None:
    results, _ = outage_runs
    _check(results["vlm_outage_deferrable"], "extract")


def test_blocking_operator_rides_out_the_outage(outage_runs) -> None:
    results, _ = outage_runs
    _check(results["vlm_outage_blocking"], "extract")


def test_deferrable_sensor_rides_out_the_outage(outage_runs) -> None:
    results, _ = outage_runs
    result = results["vlm_outage_sensor"]
    record = _check(result, "wait")
    assert record["id"] == result.xcom("submit", key="prediction_id")
    assert "503" in result.output  # the outage was met, and logged, not silently skipped
