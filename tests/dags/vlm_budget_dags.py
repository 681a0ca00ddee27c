"""DAGs of the retry-budget tests (``tests/operators/test_retry_budget.py``).

``VLM_BUDGET_DOC`` is a small generated document; the tests set the dev server's faults.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_vlm.operators.generate import GenerateOperator

DOC = os.environ.get("VLM_BUDGET_DOC", "missing.txt")
START = datetime(2026, 1, 1)
# The connection says max_retries=3 (tests/dags/_harness.py): the operators' argument overrides it.
COMMON = {"domain": "document.receipt", "file": DOC, "deferrable": False, "poll_interval": 0.3}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START, catchup=False, tags=["vlm-budget-test"])


with _dag("vlm_budget_one_try"):
    GenerateOperator(task_id="extract", max_retries=2, retries=0, **COMMON)

with _dag("vlm_budget_retried"):
    GenerateOperator(task_id="extract", max_retries=2, retries=1, retry_delay=timedelta(seconds=1), **COMMON)

with _dag("vlm_budget_missing_connection"):
    GenerateOperator(
        task_id="extract",
        vlm_conn_id="vlm_no_such_connection",
        retries=2,
        retry_delay=timedelta(seconds=1),
        **COMMON,
    )
