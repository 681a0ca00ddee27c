"""DAGs of the runtime tests (``tests/operators/test_runtime_dags.py``): what the logs say after a
deferred wait and during an outage, a dead endpoint's bound, and a stop on the worker.

``VLM_TEST_INVOICE``/``VLM_TEST_INVOICES`` come from the harness; ``vlm_dead`` is a connection the
test points at a closed port.
"""

from __future__ import annotations

import json
import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_vlm.operators.batch import GenerateBatchOperator
from airflow_provider_vlm.operators.generate import GenerateOperator

INVOICE = os.environ.get("VLM_TEST_INVOICE", "missing.pdf")
#: Never empty, so that the file parses in every test run (an empty list fails at parse time).
INVOICES = json.loads(os.environ.get("VLM_TEST_INVOICES", "[]")) or ["missing-1.pdf", "missing-2.pdf"]
START = datetime(2026, 1, 1)


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START, catchup=False, tags=["vlm-runtime-test"])


with _dag("vlm_runtime_deferred_wait"):
    # Defers at once and polls every 3 s: the trigger, not the worker, does the waiting.
    GenerateOperator(
        task_id="extract",
        domain="document.invoice",
        file=INVOICE,
        deferrable=True,
        defer_after=0,
        poll_interval=3,
        max_poll_interval=3,
    )

with _dag("vlm_runtime_inline"):
    # The default defer_after: a prediction that ends within it never defers.
    GenerateOperator(task_id="extract", domain="document.invoice", file=INVOICE, deferrable=True)

with _dag("vlm_runtime_batch_outage"):
    GenerateBatchOperator(
        task_id="batch",
        domain="document.invoice",
        inputs=INVOICES[:1],
        deferrable=True,
        max_retries=1,
        retries=0,
    )

with _dag("vlm_runtime_dead_endpoint"):
    GenerateBatchOperator(
        task_id="batch",
        domain="document.invoice",
        inputs=INVOICES[:2],
        vlm_conn_id="vlm_dead",
        deferrable=True,
        retries=0,
    )

with _dag("vlm_runtime_blocking_wait"):
    # Waits on the worker for a prediction that runs for an hour: only a stop ends the try.
    GenerateOperator(
        task_id="extract",
        domain="document.invoice",
        file=INVOICE,
        deferrable=False,
        poll_interval=5,
        max_poll_interval=30,
        retries=0,
    )
