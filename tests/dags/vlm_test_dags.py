"""DAGs driven by the DAG-level tests (``dag.test()`` in a fresh process, see ``_harness.py``).

Inputs come from environment variables the harness sets, so the files hold no machine paths:
``VLM_TEST_INVOICE`` (one generated e-invoice), ``VLM_TEST_INVOICES`` (a JSON list of invoices),
``VLM_TEST_BAD_FILE`` (a file the server cannot read).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, get_current_context
from pydantic import BaseModel, Field

from airflow_provider_vlm.client import Prediction
from airflow_provider_vlm.operators.generate import GenerateOperator
from airflow_provider_vlm.operators.schema import GenerateSchemaOperator
from airflow_provider_vlm.sensors.prediction import PredictionSensor

INVOICE = os.environ.get("VLM_TEST_INVOICE", "missing.pdf")
INVOICES = json.loads(os.environ.get("VLM_TEST_INVOICES", "[]"))
BAD_FILE = os.environ.get("VLM_TEST_BAD_FILE", "missing.txt")
MISSING_FILE = os.environ.get("VLM_TEST_MISSING_FILE", "missing-folder/missing.pdf")

START = datetime(2026, 1, 1)
#: Deferring at once (defer_after=0): these DAGs test the deferred path with fast predictions.
FAST = {"poll_interval": 0.3, "max_poll_interval": 1.0, "defer_after": 0}
RETRYING = {"retries": 2, "retry_delay": timedelta(seconds=1)}


class StrictTotal(BaseModel):
    """A model the invoice's real total (529.87) cannot satisfy."""

    total: float = Field(lt=1)


class WorkerCrash(RuntimeError):
    """Stands for a worker dying: not a client error, so nothing catches it and the task retries."""


def _first_try() -> bool:
    return int(get_current_context()["ti"].try_number) == 1


class CrashAfterSubmitOperator(GenerateOperator):
    """Dies on its first try right after submitting: where it would defer, or return its result."""

    def defer(self, **kwargs: Any) -> Any:
        if _first_try():
            raise WorkerCrash("simulated worker crash after submitting")
        return super().defer(**kwargs)

    def _result(self, prediction: Prediction) -> dict[str, Any]:
        if _first_try():
            raise WorkerCrash("simulated worker crash after submitting")
        return super()._result(prediction)


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START, catchup=False, tags=["vlm-test"])


with _dag("vlm_deferrable"):
    GenerateOperator(
        task_id="extract", domain="document.invoice", file=INVOICE, deferrable=True, **FAST, **RETRYING
    )

with _dag("vlm_blocking"):
    GenerateOperator(
        task_id="extract", domain="document.invoice", file=INVOICE, deferrable=False, **FAST, **RETRYING
    )

with _dag("vlm_crash_deferrable"):
    CrashAfterSubmitOperator(
        task_id="extract", domain="document.invoice", file=INVOICE, deferrable=True, **FAST, **RETRYING
    )

with _dag("vlm_crash_blocking"):
    CrashAfterSubmitOperator(
        task_id="extract", domain="document.invoice", file=INVOICE, deferrable=False, **FAST, **RETRYING
    )

with _dag("vlm_templated"):
    GenerateOperator(
        task_id="extract",
        domain="{{ dag_run.conf['domain'] }}",
        file="{{ dag_run.conf['file'] }}",
        metadata={"session_id": "{{ run_id }}"},
        deferrable=True,
        **FAST,
    )

with _dag("vlm_templated_secret"):
    # A template that reads the connection's key: its rendered value must be masked.
    GenerateOperator(
        task_id="extract",
        domain="document.invoice",
        file=INVOICE,
        metadata={"session_id": "{{ conn.vlm_default.password }}"},
        deferrable=True,
        **FAST,
    )

with _dag("vlm_failed"):
    GenerateOperator(task_id="extract", domain="document.invoice", file=BAD_FILE, deferrable=True, **FAST)

with _dag("vlm_timeout"):
    GenerateOperator(
        task_id="extract", domain="document.invoice", file=INVOICE, deferrable=True, timeout=2, **FAST
    )

with _dag("vlm_blocking_timeout"):
    GenerateOperator(
        task_id="extract", domain="document.invoice", file=INVOICE, deferrable=False, timeout=2, **FAST
    )

with _dag("vlm_autocast"):
    GenerateOperator(
        task_id="extract", domain="document.invoice", file=INVOICE, autocast=True, deferrable=True, **FAST
    )

with _dag("vlm_autocast_retrying"):
    # With retries: a response that breaks the domain's schema must still fail at once.
    GenerateOperator(
        task_id="extract",
        domain="document.invoice",
        file=INVOICE,
        autocast=True,
        deferrable=True,
        **FAST,
        **RETRYING,
    )

with _dag("vlm_response_model"):
    GenerateOperator(
        task_id="extract",
        domain="document.invoice",
        file=INVOICE,
        response_model=StrictTotal,
        deferrable=True,
        **FAST,
        **RETRYING,
    )

with _dag("vlm_mapped"):
    GenerateOperator.partial(task_id="extract", domain="document.invoice", deferrable=True, **FAST).expand(
        file=INVOICES
    )

with _dag("vlm_submit_then_sense"):
    submit = GenerateOperator(
        task_id="submit", domain="document.invoice", file=INVOICE, wait_for_completion=False
    )
    pid = "{{ ti.xcom_pull(task_ids='submit', key='prediction_id') }}"
    submit >> [
        PredictionSensor(
            task_id="wait_deferred", prediction_id=pid, deferrable=True, defer_after=0, poke_interval=0.3
        ),
        PredictionSensor(task_id="wait_poke", prediction_id=pid, mode="poke", poke_interval=0.3),
        PredictionSensor(task_id="wait_reschedule", prediction_id=pid, mode="reschedule", poke_interval=1),
    ]

with _dag("vlm_sensor_timeout"):
    submit = GenerateOperator(
        task_id="submit", domain="document.invoice", file=INVOICE, wait_for_completion=False
    )
    submit >> PredictionSensor(
        task_id="wait",
        prediction_id="{{ ti.xcom_pull(task_ids='submit', key='prediction_id') }}",
        deferrable=True,
        defer_after=0,
        poke_interval=0.3,
        timeout=2,
        **RETRYING,
    )

with _dag("vlm_schema"):
    GenerateSchemaOperator(task_id="schema", media="document", file=INVOICE)

with _dag("vlm_input_errors"):
    # Each fails on its first try although retries are allowed: the next try would fail the same way.
    GenerateOperator(task_id="too_large", domain="document.invoice", file=INVOICE, **FAST, **RETRYING)
    GenerateOperator(task_id="missing_path", domain="document.invoice", file=MISSING_FILE, **FAST, **RETRYING)
    GenerateOperator(
        task_id="unknown_file_id",
        domain="document.invoice",
        file_id="file-not-on-this-server",
        **FAST,
        **RETRYING,
    )
    GenerateSchemaOperator(task_id="schema_too_large", media="document", file=INVOICE, retries=2)
