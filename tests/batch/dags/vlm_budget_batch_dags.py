"""DAGs of the batch's retry-budget tests (``tests/batch/test_batch_budget.py``).

``VLM_BATCH_SOURCE`` is a folder of generated documents; the tests set the dev server's faults.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_vlm.operators.batch import GenerateBatchOperator

SOURCE = os.environ.get("VLM_BATCH_SOURCE", "missing-folder")
START = datetime(2026, 1, 1)
COMMON = {
    "domain": "document.receipt",
    "source": SOURCE,
    "pattern": "*.txt",
    "deferrable": False,
    "max_active_submissions": 2,
    "poll_interval": 0.3,
    "max_poll_interval": 1.0,
}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START, catchup=False, tags=["vlm-batch-test"])


with _dag("vlm_batch_budget_one_try"):
    GenerateBatchOperator(task_id="extract", max_retries=2, retries=0, **COMMON)

with _dag("vlm_batch_refused_retried"):
    # No retry within the try: the first create's lost answer fails try 1, so try 2 must decide
    # what to send again.
    GenerateBatchOperator(
        task_id="extract", max_retries=0, retries=2, retry_delay=timedelta(seconds=1), **COMMON
    )
