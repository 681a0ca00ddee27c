"""DAGs of the schema drift tests (``tests/batch/test_schema_drift.py``).

``VLM_BATCH_SOURCE`` is a folder of generated documents, ``VLM_BATCH_OUTPUT`` the output folder,
``VLM_PIN`` the hash the ``*_pinned`` DAGs pin; the tests publish schemas on the dev server.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_vlm.operators.batch import GenerateBatchOperator
from airflow_provider_vlm.operators.generate import GenerateOperator

SOURCE = os.environ.get("VLM_BATCH_SOURCE", "missing-folder")
OUTPUT = os.environ.get("VLM_BATCH_OUTPUT") or None
START = datetime(2026, 1, 1)
COMMON = {
    "domain": "document.receipt",
    "source": SOURCE,
    "pattern": "*.txt",
    "output_path": OUTPUT,
    "deferrable": False,
    "max_active_submissions": 2,
    "poll_interval": 0.3,
    "max_poll_interval": 1.0,
}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START, catchup=False, tags=["vlm-batch-test"])


with _dag("vlm_drift_nights"):
    GenerateBatchOperator(task_id="extract", **COMMON)

with _dag("vlm_drift_pinned"):
    # Retries that a pin mismatch must not spend.
    GenerateBatchOperator(
        task_id="extract",
        pin_schema_hash=os.environ.get("VLM_PIN", "unset"),
        retries=2,
        retry_delay=timedelta(seconds=1),
        **COMMON,
    )

with _dag("vlm_drift_generate_pinned"):
    GenerateOperator(
        task_id="extract",
        domain="document.receipt",
        file=os.path.join(SOURCE, "doc-00000.txt"),
        pin_schema_hash=os.environ.get("VLM_PIN", "unset"),
        deferrable=False,
        poll_interval=0.3,
        retries=2,
        retry_delay=timedelta(seconds=1),
    )
