"""DAGs for what a user sees on a task: the extra link and the log of a resumed try.

``VLM_TEST_INVOICE`` is set by the test (no machine paths here).
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_vlm.operators.generate import GenerateOperator
from airflow_provider_vlm.sensors.prediction import PredictionSensor

INVOICE = os.environ.get("VLM_TEST_INVOICE", "missing.pdf")
#: Deferring at once (defer_after=0): these DAGs test the deferred path with fast predictions.
FAST = {"poll_interval": 0.3, "max_poll_interval": 1.0, "defer_after": 0}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["vlm-test"])


with _dag("vlm_ui_deferred"):
    GenerateOperator(task_id="extract", domain="document.invoice", file=INVOICE, deferrable=True, **FAST)

with _dag("vlm_ui_sensor"):
    submit = GenerateOperator(
        task_id="submit", domain="document.invoice", file=INVOICE, wait_for_completion=False
    )
    submit >> PredictionSensor(
        task_id="wait",
        prediction_id="{{ ti.xcom_pull(task_ids='submit', key='prediction_id') }}",
        deferrable=True,
        defer_after=0,
        poke_interval=0.3,
    )

with _dag("vlm_ui_no_key"):
    # Fails before anything is submitted: the connection has no API key.
    GenerateOperator(
        task_id="extract",
        domain="document.invoice",
        file=INVOICE,
        vlm_conn_id="vlm_no_key",
        deferrable=True,
        retries=0,
    )
