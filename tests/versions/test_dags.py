"""A DAG written from the docs, and retries after a crash that send nothing twice, on this line.

Each claim is proved with the dev server's own counters for that run: predictions created and
submissions per ``Idempotency-Key``.
"""

from __future__ import annotations

import pytest

from conftest import DagResult

# The first test that asks for ``dag_runs`` runs every dag.test() of the suite.
pytestmark = pytest.mark.timeout(900)


def test_deferring_operator_and_sensor_as_the_docs_write_them(dag_runs: dict[str, DagResult]) -> None:
    result = dag_runs["vlm_docs_defer_and_sense"]
    assert result.state == "success", result.tail()
    record = result.xcom("extract")
    assert record["status"] == "completed" and record["response"]["invoice_id"], record
    assert record["id"] == result.xcom("extract", "prediction_id")
    submitted = result.xcom("submit")
    sensed = result.xcom("wait")
    assert sensed["id"] == submitted["id"] and sensed["status"] == "completed", (submitted, sensed)
    assert sensed.keys() == record.keys()  # the sensor returns what a waiting operator returns
    assert "pausing task as deferred" in result.output.lower()  # it waited in the trigger
    assert result.stats["predictions_created"] == 2, result.stats
    assert sorted(result.stats["submissions"].values()) == [1, 1], result.stats


def test_crash_after_submit_retries_without_a_second_prediction(dag_runs: dict[str, DagResult]) -> None:
    """Deferrable, blocking, batch and ``@task.vlm``: try 1 dies after submitting, try 2 re-attaches."""
    result = dag_runs["vlm_crash_after_submit"]
    assert result.state == "success", result.tail()
    for task_id in ("deferrable", "blocking", "batch", "taskflow"):
        ti = result.task(task_id)
        assert ti["state"] == "success" and ti["try_number"] == 2, (ti, result.tail())
    assert "simulated worker crash after submitting" in result.output
    for task_id in ("deferrable", "blocking", "taskflow"):
        record = result.xcom(task_id)
        assert record["status"] == "completed", (task_id, record)
        assert record["id"] == result.xcom(task_id, "prediction_id"), task_id
    batch_inputs = 2  # the suite hands the batch two invoices (conftest.dag_runs)
    stats = result.stats
    # One prediction per single task and per batch input, each submitted under one key, once.
    assert stats["predictions_created"] == 3 + batch_inputs, stats
    assert sorted(stats["submissions"].values()) == [1] * (3 + batch_inputs), stats


def test_a_feedback_step_that_dies_after_one_sends_each_correction_once(
    dag_runs: dict[str, DagResult],
) -> None:
    """Try 1 dies after the first feedback; try 2 finds it in this line's record, sends the second."""
    result = dag_runs["vlm_feedback_after_crash"]
    assert result.state == "success", result.tail()
    assert result.task("feedback")["try_number"] == 2, result.tail()
    assert "simulated worker crash after sending a feedback" in result.output
    sent = result.xcom("feedback")
    assert [entry["status"] for entry in sent] == ["already_sent", "sent"], sent
    assert [entry["prediction_id"] for entry in sent] == [result.xcom(t)["id"] for t in ("first", "second")]
    # Found in the record (task_state_store, or Variables below 3.3), not looked up on the server.
    assert "the platform already holds it" not in result.output, result.tail()
    assert result.stats["feedback"] == {"created": 2, "replayed": 0}, result.stats
