"""Retries without duplicates, through real Airflow retries against the real dev server.

Each test proves its claim with the dev server's own counters: how many predictions were created
and under which ``Idempotency-Key``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from vlm_dag_support import RunDag, runner

pytestmark = pytest.mark.timeout(240)


def _one_submission(dev: Any) -> None:
    stats = dev.stats()
    assert stats["predictions_created"] == 1, stats
    assert list(stats["submissions"].values()) == [1], stats


def test_retry_after_submit_reattaches(run_dag: RunDag, dev: Any) -> None:
    """Try 1 dies right after submitting (where it would defer); try 2 re-attaches, submits nothing."""
    dev.faults(processing_time=3)
    result = run_dag("vlm_crash_deferrable")
    ti = result.task("extract")
    assert result.state == "success" and ti["try_number"] == 2, result.tail()
    assert "re-attaching" in result.output
    assert result.xcom("extract", "prediction_id") == result.xcom("extract")["id"]
    _one_submission(dev)


def test_retry_after_completion_submits_nothing(run_dag: RunDag, dev: Any) -> None:
    """Try 1 dies once the prediction completed; try 2 returns it without submitting."""
    dev.faults(processing_time=0.2)
    result = run_dag("vlm_crash_blocking")
    assert result.state == "success" and result.task("extract")["try_number"] == 2, result.tail()
    assert "already completed" in result.output
    assert result.xcom("extract")["status"] == "completed"
    _one_submission(dev)


def test_lost_submit_answer_recovers_the_same_prediction(run_dag: RunDag, dev: Any) -> None:
    dev.faults(drop_after_create=1)
    result = run_dag("vlm_deferrable")
    assert result.state == "success" and result.task("extract")["try_number"] == 2, result.tail()
    assert "OutcomeUnknownError" in result.output
    assert "same Idempotency-Key" in result.output
    _one_submission(dev)


def test_clear_extracts_again_exactly_once(run_dag: RunDag, dev: Any) -> None:
    result = run_dag("vlm_deferrable", clear_rerun=True)
    assert result.state == "success" and result.clear_number == 1, result.tail()
    stats = dev.stats()
    assert stats["predictions_created"] == 2, stats
    assert sorted(stats["submissions"].values()) == [1, 1], stats  # two keys, one prediction each
    (row,) = [r for r in result.task_state if r["key"] == "vlm_submission"]
    assert row["value"]["generation"] == 2 and row["value"]["clear_number"] == 1
    assert result.xcom("extract")["id"] == row["value"]["prediction_id"]


@pytest.mark.parametrize("dag_id", ["vlm_deferrable", "vlm_blocking"])
def test_flaky_server_during_wait_still_succeeds(run_dag: RunDag, dev: Any, dag_id: str) -> None:
    dev.faults(processing_time=3, error_rate=0.2, rate_limit_rate=0.1, retry_after=0.2, methods=["GET"])
    result = run_dag(dag_id)
    assert result.state == "success", result.tail()
    assert result.xcom("extract")["status"] == "completed"
    _one_submission(dev)
    assert sum(dev.stats()["faults_injected"].values()) > 0


def test_autocast_mismatch_names_the_field_and_does_not_retry(run_dag: RunDag, dev: Any) -> None:
    # invoice_id must be a string or null in document.invoice's schema
    dev.faults(responses={"document.invoice": {"invoice_id": 12345}})
    result = run_dag("vlm_autocast_retrying")
    ti = result.task("extract")
    assert ti["state"] == "failed", result.tail()
    assert ti["try_number"] == 1  # retries=2, but the default retry_policy fails validation at once
    assert "ResponseValidationError" in result.output
    assert "$.invoice_id" in result.output
    assert result.xcom("extract") is None  # nothing half-valid goes downstream
    _one_submission(dev)


def test_api_key_never_leaks(start_devserver: Any, airflow_home: Path, bad_file: Path) -> None:
    secret = "sk-never-show-3f9c2d7a1b"
    with start_devserver("--port", "0", "--processing-time", "1", "--api-key", secret) as server:
        run = runner(airflow_home, server.base_url, secret, bad_file)
        for dag_id in ("vlm_deferrable", "vlm_failed", "vlm_submit_then_sense", "vlm_templated_secret"):
            result = run(dag_id)
            assert result.tasks, result.tail()
            assert secret not in result.output, dag_id  # task logs, trigger logs, exceptions
            assert secret not in repr(result.xcoms), dag_id
            assert secret not in repr(result.task_state), dag_id
            # Rendered template fields, as stored in the metadata DB (the UI's "Rendered" tab).
            assert {r["task_id"] for r in result.rendered} == {t["task_id"] for t in result.tasks}, dag_id
            assert secret not in json.dumps(result.rendered), dag_id
        (rendered,) = result.rendered  # vlm_templated_secret: the template read the key
        assert rendered["fields"]["metadata"] == {"session_id": "***"}
