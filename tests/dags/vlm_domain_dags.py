"""DAGs of the domain check: a typo in ``domain`` fails before anything is uploaded or billed.

The input comes from ``VLM_TEST_INVOICE`` (set by the test), so the file holds no machine path.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_vlm.operators.generate import GenerateOperator

INVOICE = os.environ.get("VLM_TEST_INVOICE", "missing.pdf")

with DAG("vlm_domain_typo", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["vlm-test"]):
    GenerateOperator(
        task_id="extract",
        domain="document.invoicee",
        file=INVOICE,
        deferrable=True,
        poll_interval=0.3,
        max_poll_interval=1.0,
        retries=2,
        retry_delay=timedelta(seconds=1),
    )
