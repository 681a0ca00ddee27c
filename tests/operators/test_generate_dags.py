"""GenerateOperator through real Airflow (``dag.test()``) against the real dev server."""

from __future__ import annotations

from typing import Any

import pytest
from vlm_dag_support import INVOICE, MAPPED, RunDag

pytestmark = pytest.mark.timeout(240)

RECORD_KEYS = {"id", "status", "type", "domain", "created_at", "completed_at", "response", "usage"}


def _ok(result: Any, task_id: str = "extract") -> dict[str, Any]:
    assert result.returncode == 0, result.tail()
    assert result.state == "success", result.tail()
    record = result.xcom(task_id)
    assert isinstance(record, dict) and set(record) == RECORD_KEYS, record
    assert record["status"] == "completed"
    assert result.xcom(task_id, "prediction_id") == record["id"]
    return record


def test_deferrable_success_returns_record_and_link(run_dag: RunDag, dev: Any) -> None:
    result = run_dag("vlm_deferrable")
    record = _ok(result)
    assert record["type"] == "document" and record["domain"] == "document.invoice"
    assert record["response"]["invoice_id"] == "471102"
    assert "Pausing task as DEFERRED" in result.output
    assert result.task("extract")["try_number"] == 1
    assert dev.stats()["predictions_created"] == 1
    # the durable record holds the prediction id and generation 1
    (row,) = [r for r in result.task_state if r["key"] == "vlm_submission"]
    assert row["value"]["prediction_id"] == record["id"] and row["value"]["generation"] == 1
    link = result.xcom("extract", "_link_VlmPredictionLink")
    assert link == f"https://dashboard.example/predictions/{record['id']}"


def test_blocking_success(run_dag: RunDag, dev: Any) -> None:
    result = run_dag("vlm_blocking")
    _ok(result)
    assert "Pausing task as DEFERRED" not in result.output
    assert dev.stats()["predictions_created"] == 1


def test_templated_inputs(run_dag: RunDag) -> None:
    result = run_dag("vlm_templated", conf={"file": str(INVOICE), "domain": "document.invoice"})
    record = _ok(result)
    assert record["domain"] == "document.invoice"


def test_failed_prediction_fails_task_with_server_message(run_dag: RunDag) -> None:
    result = run_dag("vlm_failed")
    assert result.task("extract")["state"] == "failed", result.tail()
    assert "PredictionFailedError" in result.output
    assert "not a PDF" in result.output


def test_deferred_timeout(run_dag: RunDag, dev: Any) -> None:
    dev.faults(processing_time=60)
    result = run_dag("vlm_timeout")
    assert result.task("extract")["state"] == "failed", result.tail()
    assert "PredictionTimeoutError" in result.output
    assert "did not finish within 2s" in result.output


def test_blocking_timeout(run_dag: RunDag, dev: Any) -> None:
    dev.faults(processing_time=60)
    result = run_dag("vlm_blocking_timeout")
    assert result.task("extract")["state"] == "failed", result.tail()
    assert "did not finish within 2s" in result.output


def test_autocast_passes(run_dag: RunDag) -> None:
    _ok(run_dag("vlm_autocast"))


def test_response_model_mismatch_names_the_field_and_does_not_retry(run_dag: RunDag, dev: Any) -> None:
    result = run_dag("vlm_response_model")
    ti = result.task("extract")
    assert ti["state"] == "failed", result.tail()
    assert ti["try_number"] == 1  # the default retry_policy fails validation errors at once
    assert "ResponseValidationError" in result.output
    assert "$.total" in result.output
    assert dev.stats()["predictions_created"] == 1


def test_mapped_over_real_invoices(run_dag: RunDag, dev: Any) -> None:
    result = run_dag("vlm_mapped")
    assert result.state == "success", result.tail()
    ids = set()
    for index in range(len(MAPPED)):
        record = result.xcom("extract", map_index=index)
        assert record["status"] == "completed"
        ids.add(record["id"])
    assert len(ids) == len(MAPPED)
    assert dev.stats()["predictions_created"] == len(MAPPED)


def test_submit_then_sensors_return_the_same_record(run_dag: RunDag, dev: Any) -> None:
    result = run_dag("vlm_submit_then_sense")
    assert result.state == "success", result.tail()
    submitted = result.xcom("submit")
    assert submitted["status"] in ("enqueued", "pending", "running")
    for task_id in ("wait_deferred", "wait_poke", "wait_reschedule"):
        record = result.xcom(task_id)
        assert set(record) == RECORD_KEYS and record["id"] == submitted["id"], task_id
        assert record["status"] == "completed"
    assert dev.stats()["predictions_created"] == 1


def test_sensor_timeout_is_sensor_timeout_without_retry(run_dag: RunDag, dev: Any) -> None:
    dev.faults(processing_time=60)
    result = run_dag("vlm_sensor_timeout")
    ti = result.task("wait")
    assert ti["state"] == "failed", result.tail()
    assert ti["try_number"] == 1  # retries=2, but a sensor timeout never retries
    assert "AirflowSensorTimeout" in result.output


def test_schema_operator_returns_schema(run_dag: RunDag, dev: Any) -> None:
    dev.reset(state=True)  # nothing stored: the operator uploads the sample itself
    result = run_dag("vlm_schema")
    assert result.state == "success", result.tail()
    schema = result.xcom("schema")
    assert isinstance(schema["json_schema"], dict) and schema["json_schema"]
    with dev.client() as http:
        stored = http.get("/files", params={"limit": 100}).json()
    assert [f["filename"] for f in stored] == [INVOICE.name]  # its own name, not "upload.bin"
