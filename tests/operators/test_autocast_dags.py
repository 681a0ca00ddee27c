"""``GenerateOperator``, ``@task.vlm``, ``PredictionSensor`` and the batch give the client's ``autocast`` verdicts.

One ``dag.test()`` run of ``vlm_autocast_near_misses`` judges every near-miss of
``tests/dags/_near_misses.py``; each failing task's error names its prediction and the failing
field's path, which must be the table's and the client's; so does each batch result row.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from _near_misses import CASES, DOMAIN, client_verdict, responses
from vlm_dag_support import RunDag

from airflow_provider_vlm.client import VlmClient

pytestmark = pytest.mark.timeout(280)


def _verdict(result: Any, task_id: str) -> str | None:
    """``None`` when the task returned the completed record, else the path its error named."""
    ti = result.task(task_id)
    if ti["state"] == "success":
        record = result.xcom(task_id)
        assert record["status"] == "completed", record
        return None
    assert ti["state"] == "failed", (task_id, ti, result.tail())
    assert ti["try_number"] == 1  # a response that does not fit is not retried
    prediction_id = result.xcom(task_id.replace("sense__", "submit__"), "prediction_id")
    assert prediction_id, (task_id, result.tail())
    found = re.search(
        rf"ResponseValidationError: prediction {re.escape(prediction_id)} response does not match the "
        r"[^\n]*? at (\$\S*): ",
        result.output,
    )
    assert found, (task_id, prediction_id, result.tail(200))
    return found.group(1)


def _batch_verdicts(result: Any) -> dict[str, str | None]:
    """Each batch input's verdict, by case name, from the results in the summary (XCom)."""
    by_url = {case.url: case.name for case in CASES}
    verdicts: dict[str, str | None] = {}
    for task_id in ("batch__invoice", "batch__constrained"):
        summary = result.xcom(task_id)
        assert summary and summary["results"], (task_id, summary, result.tail())
        for row in summary["results"]:
            name = by_url[row["input"]]
            if row["status"] == "completed":
                verdicts[name] = None
                continue
            assert row["status"] == "failed", row
            found = re.search(r" at (\$\S*): ", row["error"])
            assert found, row
            verdicts[name] = found.group(1)
    return verdicts


def test_every_entry_point_agrees_with_the_client(run_dag: RunDag, dev: Any) -> None:
    dev.faults(processing_time=0, responses=responses())
    with VlmClient(dev.api_key, dev.base_url) as client:
        from_client = {case.name: client_verdict(client, case) for case in CASES}
    assert from_client == {case.name: case.path for case in CASES}

    result = run_dag("vlm_autocast_near_misses", timeout=260)
    assert result.tasks, result.tail()
    from_operator = {case.name: _verdict(result, f"op__{case.name}") for case in CASES}
    assert from_operator == from_client
    for name in ("invoice_valid", "number_as_string"):
        assert _verdict(result, f"decorated__{name}") == from_client[name], name
        assert _verdict(result, f"sense__{name}") == from_client[name], name
    assert _batch_verdicts(result) == from_client
    passed = result.xcom("op__invoice_valid")
    assert passed["domain"] == DOMAIN and passed["response"]["total_amount"] == 529.87
