"""Stopping a wait: the one log line, the deferral timeout, and the hooks Airflow calls on a stop.

The hooks send nothing (VLM Run has no cancel call), so no server is involved: these tests check
what the user reads and that the hooks never raise on their own. The real stops (mark failed,
Clear, ``execution_timeout``, a triggerer restart) run through Airflow in
``tests/e2e/test_kill_cluster.py``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferralError, TaskDeferralTimeout

from airflow_provider_vlm.durable import RECORD_KEY, SubmissionRecord
from airflow_provider_vlm.operators.batch import GenerateBatchOperator
from airflow_provider_vlm.operators.generate import GenerateOperator
from airflow_provider_vlm.stopping import TRIGGER_FAIL, defer_timeout, still_running
from airflow_provider_vlm.triggers.prediction import PredictionTrigger

SECRET = "sk-stop-unit-41f0"
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


class _Store:
    def __init__(self, values: dict[str, Any] | None = None, broken: bool = False) -> None:
        self.values = dict(values or {})
        self.broken = broken

    def get(self, key: str, default: Any = None) -> Any:
        if self.broken:
            raise ConnectionError("api-server unreachable")
        return self.values.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.values[key] = value


class _Logs:
    """What a task or trigger logged: Airflow's structured logger writes to stdout, stdlib to caplog."""

    def __init__(self, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
        self.capsys = capsys
        self.caplog = caplog
        self.seen = ""

    def capturing(self) -> Any:
        return self.caplog.at_level(logging.WARNING)

    @property
    def text(self) -> str:
        self.seen += self.capsys.readouterr().out
        return self.seen + self.caplog.text


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> _Logs:
    return _Logs(capsys, caplog)


def _operator() -> GenerateOperator:
    return GenerateOperator(task_id="extract", domain="document.invoice", url="https://x.example/a.pdf")


def test_the_line_names_what_keeps_running_and_what_happens_next() -> None:
    one = still_running(["p1"], stopped="stopped")
    assert one.startswith("stopped: prediction p1 keeps running on the server and is billed.")
    assert "a retry re-attaches" in one and "Clear" in one
    many = still_running([f"p{i}" for i in range(12)], stopped="stopped")
    assert "12 predictions (p0, p1, p2, p3, p4, and 7 more) keep running" in many
    assert "any prediction this try already created keeps running" in still_running([], stopped="stopped")


def test_deferral_timeout_is_cut_to_what_is_left_of_execution_timeout() -> None:
    def cut(wait: float | None, execution: float | None, started_ago: float) -> float | None:
        found = defer_timeout(
            wait_timeout=wait,
            grace=90.0,
            execution_timeout=None if execution is None else timedelta(seconds=execution),
            try_started=T0 - timedelta(seconds=started_ago),
            now=T0,
        )
        return None if found is None else found.total_seconds()

    assert cut(3600, None, 0) == 3690  # the backstop behind the trigger's own deadline
    assert cut(None, None, 0) is None
    assert cut(3600, 600, 100) == 500  # execution_timeout counts from the start of the try
    assert cut(None, 600, 100) == 500
    assert cut(3600, 600, 900) == 1.0  # already past: the scheduler ends the wait at once


def test_trigger_on_kill_logs_the_ids_and_never_raises(logs: _Logs) -> None:
    trigger = PredictionTrigger(["p1", "p2"], vlm_conn_id="vlm_stop_missing")
    with logs.capturing():
        assert asyncio.run(trigger.on_kill()) is None  # no connection is read: nothing is sent
    assert "2 predictions (p1, p2) keep running on the server and are billed" in logs.text
    assert "the deferred task was stopped" in logs.text
    assert "a retry re-attaches" not in logs.text  # the trigger also serves the sensor: no promise


def test_operator_on_kill_names_the_waiting_prediction(logs: _Logs) -> None:
    operator = _operator()
    with logs.capturing():
        operator.on_kill()  # stopped before anything was submitted
        operator._waiting_ids = ["p9"]
        operator.on_kill()
    assert "any prediction this try already created keeps running" in logs.text
    assert "the task was stopped on the worker" in logs.text
    assert "prediction p9 keeps running on the server and is billed" in logs.text
    assert SECRET not in logs.text


def test_a_deferral_timeout_logs_the_recorded_prediction_then_fails(logs: _Logs) -> None:
    record = SubmissionRecord("fp", 0, 1, T0.isoformat(), prediction_id="p7")
    context: Any = {"task_state_store": _Store({RECORD_KEY: record.to_json()})}
    with logs.capturing(), pytest.raises(TaskDeferralTimeout):
        _operator().resume_execution(TRIGGER_FAIL, {"error": "Trigger timeout"}, context)
    assert "Airflow ended the deferred wait (Trigger timeout): prediction p7 keeps running" in logs.text


def test_an_unreadable_record_still_fails_the_try_with_airflow_s_error(
    logs: _Logs,
) -> None:
    context: Any = {"task_state_store": _Store(broken=True)}
    with logs.capturing(), pytest.raises(TaskDeferralError):
        _operator().resume_execution(TRIGGER_FAIL, {"error": "Trigger failure"}, context)
    assert "could not be read to name the predictions" in logs.text
    assert "any prediction this try already created keeps running" in logs.text


def test_the_batch_names_only_inputs_still_waiting(logs: _Logs) -> None:
    from airflow_provider_vlm.client import PredictionStatus
    from airflow_provider_vlm.operators._batch_state import BatchState, InputState

    store = _Store()
    state = BatchState.load(store)
    rows = {"a.pdf": ("pa", None), "b.pdf": ("pb", PredictionStatus.COMPLETED), "c.pdf": ("pc", None)}
    for label, (pid, status) in rows.items():
        state.put(label, InputState(SubmissionRecord("fp", 0, 1, T0.isoformat(), pid), status))
    state.flush()
    operator = GenerateBatchOperator(task_id="batch", domain="document.invoice", inputs=["a.pdf"])
    context: Any = {"task_state_store": store}
    with logs.capturing(), pytest.raises(TaskDeferralTimeout):
        operator.resume_execution(TRIGGER_FAIL, {"error": "Trigger timeout"}, context)
    assert "2 predictions (pa, pc) keep running" in logs.text
