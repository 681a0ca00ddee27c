"""The DAG of the end-to-end test: one deferring GenerateOperator on a generated e-invoice."""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_vlm.operators.generate import GenerateOperator

with DAG(
    "vlm_e2e", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, is_paused_upon_creation=False
):
    GenerateOperator(
        task_id="extract",
        domain="document.invoice",
        file=os.environ.get("VLM_TEST_INVOICE", "missing.pdf"),
        deferrable=True,
        poll_interval=1.0,
        max_poll_interval=2.0,
        timeout=600,
    )
