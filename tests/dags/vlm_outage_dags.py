"""DAGs that wait through a status outage (``tests/operators/test_outage_dags.py``).

Every task has a 3-minute deadline and no retries: riding out the outage must cost nothing but
time, on the first try. ``VLM_TEST_INVOICE`` is set by the harness.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_vlm.operators.generate import GenerateOperator
from airflow_provider_vlm.sensors.prediction import PredictionSensor

INVOICE = os.environ.get("VLM_TEST_INVOICE", "missing.pdf")
DEADLINE = 180
POLLING = {"poll_interval": 1.0, "max_poll_interval": 8.0}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["vlm-test"])


with _dag("vlm_outage_deferrable"):
    GenerateOperator(
        task_id="extract",
        domain="document.invoice",
        file=INVOICE,
        deferrable=True,
        timeout=DEADLINE,
        retries=0,
        **POLLING,
    )

with _dag("vlm_outage_blocking"):
    GenerateOperator(
        task_id="extract",
        domain="document.invoice",
        file=INVOICE,
        deferrable=False,
        timeout=DEADLINE,
        retries=0,
        **POLLING,
    )

with _dag("vlm_outage_sensor"):
    submit = GenerateOperator(
        task_id="submit", domain="document.invoice", file=INVOICE, wait_for_completion=False, retries=0
    )
    submit >> PredictionSensor(
        task_id="wait",
        prediction_id="{{ ti.xcom_pull(task_ids='submit', key='prediction_id') }}",
        deferrable=True,
        defer_after=0,
        poke_interval=1.0,
        max_poll_interval=8.0,
        timeout=DEADLINE,
        retries=0,
    )
