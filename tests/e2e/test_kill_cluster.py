"""Stopping a waiting task through real Airflow: what happens to its prediction, record and next try.

One cluster (api-server, scheduler, dag-processor, triggerer; SQLite, LocalExecutor, 127.0.0.1)
serves every case in order. The dev server holds every prediction open (an hour of processing)
until a case finishes them on demand (``POST /_dev/finish``), so each stop lands mid-wait. A
user's actions go through the REST API as the UI sends them. Every case asserts only what holds
whether or not Airflow's defer race strikes (a try failed by the scheduler right after its
trigger fires is retried and re-attaches): final states, log lines, the durable record, and the
dev server's count of created predictions.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.version import Version

from tests.cluster import LocalAirflow
from tests.conftest import DevServerHandle, launch_devserver

SECRET = "sk-e2e-stop-7c41d2"
DAGS = Path(__file__).resolve().parent / "kill_dags"
DAG_IDS = (
    "vlm_stop_restart",
    "vlm_stop_mark_failed",
    "vlm_stop_clear",
    "vlm_stop_execution_timeout",
    "vlm_stop_blocking",
    "vlm_stop_batch",
)
#: What the trigger's ``on_kill`` logs, and what the worker logs when its wait is stopped.
TRIGGER_STOPPED = "the deferred task was stopped"
WORKER_STOPPED = "the task was stopped on the worker"
DEFERRAL_ENDED = "Airflow ended the deferred wait"
STILL_RUNNING = "keeps running on the server and is billed"


def _airflow_version() -> Version:
    from airflow import __version__

    return Version(Version(__version__).base_version)


#: ``BaseTrigger.on_kill`` exists from 3.3; a single-task Clear starts a new clear number from 3.2.
HAS_TRIGGER_ON_KILL = _airflow_version() >= Version("3.3")
CLEAR_OF_RUNNING_RUN_COUNTS = _airflow_version() >= Version("3.2")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


class Cluster:
    """The running Airflow, its REST API as the UI uses it, and the dev server."""

    def __init__(self, airflow: LocalAirflow, server: DevServerHandle) -> None:
        self.airflow = airflow
        self.server = server
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{airflow.port}/api/v2", timeout=60.0)
        self.api = server.client()

    def api_server_up(self) -> bool:
        try:
            return self.http.get("/monitor/health").status_code == 200
        except httpx.TransportError:
            return False

    # --- actions ---------------------------------------------------------------------------

    def trigger(self, dag_id: str) -> str:
        response = self.http.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
        response.raise_for_status()
        return str(response.json()["dag_run_id"])

    def mark_failed(self, dag_id: str, run_id: str) -> None:
        """What the UI's "Mark as failed" on one task sends."""
        response = self.http.patch(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/extract", json={"new_state": "failed"}
        )
        response.raise_for_status()

    def clear(self, dag_id: str, run_id: str) -> None:
        """What the UI's "Clear" on one task sends (``reset_dag_runs`` left at its default)."""
        body = {"dag_run_id": run_id, "task_ids": ["extract"], "only_failed": False, "dry_run": False}
        response = self.http.post(f"/dags/{dag_id}/clearTaskInstances", json=body)
        response.raise_for_status()

    def finish_predictions(self) -> None:
        self.server._admin.post("/_dev/finish").raise_for_status()

    # --- what can be observed ----------------------------------------------------------------

    def task(self, dag_id: str) -> tuple[int, str | None]:
        ((try_number, state),) = self.airflow.query(
            "select try_number, state from task_instance where dag_id=?", dag_id
        )
        return int(try_number), state

    def deferred_and_taken(self, dag_id: str) -> tuple[int, str] | None:
        """(trigger id, triggerer id) once the task is deferred and a triggerer runs its trigger."""
        rows = self.airflow.query(
            "select t.id, t.triggerer_id from task_instance ti join trigger t on ti.trigger_id = t.id "
            "where ti.dag_id=? and ti.state='deferred' and t.triggerer_id is not null",
            dag_id,
        )
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def record(self, dag_id: str) -> dict[str, Any] | None:
        rows = self.airflow.query(
            "select value from task_state_store where dag_id=? and key='vlm_submission'", dag_id
        )
        if not rows:
            return None
        value = json.loads(rows[0][0])
        return json.loads(value) if isinstance(value, str) else value

    def stored(self, dag_id: str) -> dict[str, str]:
        """Every ``task_state_store`` value of the DAG's task (the batch's header and chunks)."""
        return dict(self.airflow.query("select key, value from task_state_store where dag_id=?", dag_id))

    def run_state(self, dag_id: str) -> str:
        ((state,),) = self.airflow.query("select state from dag_run where dag_id=?", dag_id)
        return str(state)

    def clear_number(self, dag_id: str) -> int:
        ((number,),) = self.airflow.query("select clear_number from dag_run where dag_id=?", dag_id)
        return int(number)

    def logs(self, dag_id: str) -> str:
        """Every log file of the DAG's task: the tries' logs and the triggerer's per-try files."""
        folder = self.airflow.home / "logs" / f"dag_id={dag_id}"
        return "\n".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*.log")))

    def created(self) -> int:
        return int(self.server.stats()["predictions_created"])

    def status(self, prediction_id: str) -> str:
        response = self.api.get(f"/predictions/{prediction_id}")
        response.raise_for_status()
        return str(response.json()["status"])

    def wait(self, what: str, check: Any, timeout: float = 180) -> Any:
        return self.airflow.wait_for(what, check, timeout)

    def wait_for_success(self, dag_id: str) -> None:
        self.wait(f"{dag_id} to succeed", lambda: self.run_state(dag_id) in ("success", "failed"))
        assert self.run_state(dag_id) == "success", self.airflow.logs()
        assert self.task(dag_id)[1] == "success"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    server = launch_devserver("--port", "0", "--processing-time", "3600", "--api-key", SECRET)
    home = tmp_path_factory.mktemp("airflow-stop")
    extra = {
        "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
        "AIRFLOW__SCHEDULER__TRIGGER_TIMEOUT_CHECK_INTERVAL": "2",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__WORKERS": "1",
    }
    airflow = LocalAirflow(home, DAGS, extra_env=extra)
    handle = Cluster(airflow, server)
    try:
        airflow.start_all(server.base_url, SECRET)
        handle.wait("the api-server", handle.api_server_up)
        handle.wait(
            "the DAGs to be parsed",
            lambda: (
                len(airflow.query("select dag_id from dag where dag_id like 'vlm_stop_%'")) == len(DAG_IDS)
            ),
        )
        yield handle
        assert SECRET not in airflow.logs(chars=10**7)
        assert SECRET not in repr(airflow.query("select * from trigger"))
    finally:
        handle.http.close()
        handle.api.close()
        airflow.stop_all()
        server.stop()


def test_triggerer_restart_is_not_a_stop(cluster: Cluster) -> None:
    """SIGTERM to the triggerer (a deploy): the wait moves to a new triggerer; nothing says "stopped"."""
    dag = "vlm_stop_restart"
    before = cluster.created()
    cluster.trigger(dag)
    trigger_id, first = cluster.wait("the task to defer", lambda: cluster.deferred_and_taken(dag))

    cluster.airflow.kill("triggerer", signal.SIGTERM)
    cluster.airflow.start("triggerer-2", "triggerer", "--skip-serve-logs")
    cluster.wait(
        "a new triggerer to take the trigger over",
        lambda: (taken := cluster.deferred_and_taken(dag)) and taken[0] == trigger_id and taken[1] != first,
    )
    cluster.finish_predictions()
    cluster.wait_for_success(dag)

    logs = cluster.logs(dag)
    assert TRIGGER_STOPPED not in logs and DEFERRAL_ENDED not in logs and WORKER_STOPPED not in logs
    assert "invoking on_kill" not in logs
    assert cluster.created() == before + 1


def test_mark_failed_while_deferred(cluster: Cluster) -> None:
    """The task fails at once; its prediction runs on; the record keeps it; a Clear submits fresh."""
    dag = "vlm_stop_mark_failed"
    before = cluster.created()
    run_id = cluster.trigger(dag)
    trigger_id, _ = cluster.wait("the task to defer", lambda: cluster.deferred_and_taken(dag))
    first = cluster.record(dag)
    assert first is not None and first["prediction_id"] and first["generation"] == 1

    cluster.mark_failed(dag, run_id)
    cluster.wait("the run to fail", lambda: cluster.run_state(dag) == "failed")
    cluster.wait(
        "the triggerer to drop the trigger",
        lambda: not cluster.airflow.query("select 1 from trigger where id=?", trigger_id),
    )
    assert cluster.task(dag)[1] == "failed"
    if HAS_TRIGGER_ON_KILL:
        cluster.wait("the trigger's stop line", lambda: TRIGGER_STOPPED in cluster.logs(dag))
        assert f"prediction {first['prediction_id']} {STILL_RUNNING}" in cluster.logs(dag)
    assert cluster.record(dag) == first  # nothing rewritten: the next try decides from it
    assert cluster.status(first["prediction_id"]) in ("enqueued", "pending", "running")  # not cancelled
    assert cluster.created() == before + 1

    # A Clear of the failed task (its run has ended, so every Airflow 3 line starts a new clear
    # number) means "extract again": a fresh prediction, generation 2.
    number = cluster.clear_number(dag)
    cluster.clear(dag, run_id)
    cluster.wait(
        "the cleared task to submit afresh and defer",
        lambda: cluster.deferred_and_taken(dag) and (cluster.record(dag) or {}).get("generation") == 2,
    )
    second = cluster.record(dag)
    assert second is not None
    assert second["prediction_id"] != first["prediction_id"]
    assert second["clear_number"] == number + 1 == cluster.clear_number(dag)
    cluster.finish_predictions()
    cluster.wait_for_success(dag)
    assert cluster.created() == before + 2  # any retry after the race re-attached


def test_clear_while_deferred(cluster: Cluster) -> None:
    """Clear of the deferred task: from Airflow 3.2 a new clear number, so a fresh prediction."""
    dag = "vlm_stop_clear"
    before = cluster.created()
    run_id = cluster.trigger(dag)
    cluster.wait("the task to defer", lambda: cluster.deferred_and_taken(dag))
    first = cluster.record(dag)
    assert first is not None and first["prediction_id"]
    number = cluster.clear_number(dag)

    cluster.clear(dag, run_id)
    if HAS_TRIGGER_ON_KILL:
        cluster.wait("the trigger's stop line", lambda: TRIGGER_STOPPED in cluster.logs(dag))
    if CLEAR_OF_RUNNING_RUN_COUNTS:
        cluster.wait(
            "the cleared task to submit afresh and defer",
            lambda: cluster.deferred_and_taken(dag) and (cluster.record(dag) or {}).get("generation") == 2,
        )
        second = cluster.record(dag)
        assert second is not None and second["prediction_id"] != first["prediction_id"]
        assert second["clear_number"] == number + 1
        assert cluster.status(first["prediction_id"]) in ("enqueued", "pending", "running")
        expected = before + 2
    else:  # 3.0, 3.1: the run was still running, the clear number stays, the new try re-attaches
        cluster.wait("the cleared task to defer again", lambda: cluster.task(dag)[0] >= 2)
        cluster.wait("the cleared task to defer again", lambda: cluster.deferred_and_taken(dag))
        assert cluster.record(dag) == first
        expected = before + 1
    cluster.finish_predictions()
    cluster.wait_for_success(dag)
    assert cluster.created() == expected


def test_execution_timeout_while_deferred(cluster: Cluster) -> None:
    """``execution_timeout`` ends the deferred wait; the retry re-attaches: one prediction in all."""
    dag = "vlm_stop_execution_timeout"
    before = cluster.created()
    cluster.trigger(dag)
    cluster.wait("the task to defer", lambda: cluster.deferred_and_taken(dag))
    first = cluster.record(dag)
    assert first is not None and first["prediction_id"]

    cluster.wait("the deferral to time out and the retry to defer", lambda: cluster.task(dag)[0] >= 2)
    cluster.wait(
        "the retry to re-attach", lambda: cluster.deferred_and_taken(dag) or cluster.task(dag)[1] == "success"
    )
    logs = cluster.logs(dag)
    assert DEFERRAL_ENDED in logs and f"prediction {first['prediction_id']} {STILL_RUNNING}" in logs
    assert TRIGGER_STOPPED not in logs  # a timeout is not a user's stop: no on_kill
    assert f"prediction {first['prediction_id']} is still" in logs  # the retry re-attached
    cluster.finish_predictions()
    cluster.wait_for_success(dag)
    assert cluster.record(dag) == first
    assert cluster.created() == before + 1


def test_mark_failed_while_waiting_on_the_worker(cluster: Cluster) -> None:
    """``deferrable=False``: mark failed SIGTERMs the task; ``on_kill`` says what keeps running."""
    dag = "vlm_stop_blocking"
    before = cluster.created()
    run_id = cluster.trigger(dag)
    cluster.wait(
        "the task to submit and wait on the worker",
        lambda: cluster.task(dag)[1] == "running" and (cluster.record(dag) or {}).get("prediction_id"),
    )
    first = cluster.record(dag)
    assert first is not None

    cluster.mark_failed(dag, run_id)
    cluster.wait("the task's stop line", lambda: WORKER_STOPPED in cluster.logs(dag))
    assert f"prediction {first['prediction_id']} {STILL_RUNNING}" in cluster.logs(dag)
    assert cluster.task(dag)[1] == "failed"
    assert cluster.record(dag) == first
    assert cluster.status(first["prediction_id"]) in ("enqueued", "pending", "running")
    assert cluster.created() == before + 1


def test_batch_mark_failed_while_deferred_then_clear(cluster: Cluster) -> None:
    """One trigger for the batch: its stop line counts every input; a Clear submits every input afresh."""
    dag = "vlm_stop_batch"
    before = cluster.created()
    run_id = cluster.trigger(dag)
    cluster.wait("the batch to defer", lambda: cluster.deferred_and_taken(dag))
    state = cluster.stored(dag)
    assert cluster.created() == before + 3

    cluster.mark_failed(dag, run_id)
    cluster.wait("the run to fail", lambda: cluster.run_state(dag) == "failed")
    if HAS_TRIGGER_ON_KILL:
        cluster.wait("the trigger's stop line", lambda: TRIGGER_STOPPED in cluster.logs(dag))
        assert "3 predictions (" in cluster.logs(dag)
    assert cluster.stored(dag) == state  # every input's record as the try left it

    cluster.clear(dag, run_id)
    cluster.wait("the cleared batch to submit afresh", lambda: cluster.created() == before + 6)
    cluster.finish_predictions()
    cluster.wait_for_success(dag)
    assert cluster.created() == before + 6  # any retry after the race re-attached
