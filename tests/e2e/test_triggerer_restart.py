"""One deferring run through real processes; the triggerer is SIGKILLed mid-wait and replaced.

api-server, scheduler, dag-processor and triggerer run on SQLite with LocalExecutor,
``PARALLELISM=2``, on 127.0.0.1 and free ports; the connection is stored in the metadata DB. The
run must complete with one submission, the trigger's deadline unchanged, and no API key in the
trigger table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import LocalAirflow
from tests.invoices import generated

INVOICE = generated().primary.path
SECRET = "sk-e2e-secret-5e1d0c9b"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture
def airflow(tmp_path: Path) -> Iterator[LocalAirflow]:
    extra = {
        "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
        "VLM_TEST_INVOICE": str(INVOICE),
    }
    instance = LocalAirflow(tmp_path, Path(__file__).resolve().parent / "dags", extra_env=extra)
    try:
        yield instance
    finally:
        instance.stop_all()


def _trigger_rows(airflow: LocalAirflow) -> list[tuple[Any, ...]]:
    return airflow.query("select id, classpath, kwargs, triggerer_id from trigger")


def _deadline(kwargs: str) -> float:
    data = json.loads(kwargs)
    found: list[float] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "deadline" and isinstance(value, (int, float)):
                    found.append(float(value))
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    assert len(found) == 1, kwargs
    return found[0]


def test_triggerer_killed_mid_wait(airflow: LocalAirflow, start_devserver: Any) -> None:
    assert INVOICE.exists()
    with start_devserver("--port", "0", "--processing-time", "25", "--api-key", SECRET) as server:
        airflow.start_all(server.base_url, SECRET)

        airflow.wait_for(
            "the DAG to be parsed",
            lambda: airflow.query("select 1 from dag where dag_id='vlm_e2e'"),
            90,
        )
        airflow.cli("dags", "trigger", "vlm_e2e")

        first = airflow.wait_for(
            "the task to defer and a triggerer to take the trigger",
            lambda: [r for r in _trigger_rows(airflow) if r[3] is not None],
            90,
        )[0]
        trigger_id, classpath, kwargs, first_triggerer = first
        assert classpath == "airflow_provider_vlm.triggers.prediction.PredictionTrigger"
        assert SECRET not in repr(airflow.query("select * from trigger"))
        deadline = _deadline(kwargs)

        airflow.kill("triggerer")  # SIGKILL, mid-wait: the prediction takes 25 s
        airflow.start("triggerer-2", "triggerer", "--skip-serve-logs")
        taken = airflow.wait_for(
            "a new triggerer to take over the trigger",
            lambda: [
                r
                for r in _trigger_rows(airflow)
                if r[0] == trigger_id and r[3] not in (None, first_triggerer)
            ],
            60,
        )[0]
        assert _deadline(taken[2]) == deadline  # the restart neither reset nor extended the wait

        airflow.wait_for(
            "the run to succeed",
            lambda: airflow.query("select 1 from dag_run where dag_id='vlm_e2e' and state='success'"),
            120,
        )
        ((try_number, state),) = airflow.query(
            "select try_number, state from task_instance where dag_id='vlm_e2e'"
        )
        assert (try_number, state) == (1, "success")
        stats = server.stats()
        assert stats["predictions_created"] == 1, stats
        assert SECRET not in airflow.logs()
