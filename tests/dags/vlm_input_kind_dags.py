"""DAGs for the input kinds of ``GenerateOperator`` other than a local PDF path.

Inputs come from environment variables the test sets, so the file holds no machine paths:
``VLM_TEST_INVOICE`` (one generated e-invoice) and ``VLM_TEST_IMAGE`` (a PNG the test made).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, ObjectStoragePath, task

from airflow_provider_vlm.hooks.vlm import VlmHook
from airflow_provider_vlm.operators.generate import GenerateOperator

INVOICE = os.environ.get("VLM_TEST_INVOICE", "missing.pdf")
IMAGE = os.environ.get("VLM_TEST_IMAGE", "missing.png")
REMOTE_URL = "https://invoices.example.com/2026/INV-0042.pdf"
MEMORY_URI = "memory://vlm-test/incoming/invoice.pdf"

START = datetime(2026, 1, 1)
#: Deferring at once (defer_after=0): these DAGs test the deferred path with fast predictions.
FAST: dict[str, Any] = {"poll_interval": 0.3, "max_poll_interval": 1.0, "defer_after": 0, "deferrable": True}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START, catchup=False, tags=["vlm-test"])


with _dag("vlm_input_image"):
    GenerateOperator(task_id="extract", media="image", domain="image.caption", images=[IMAGE], **FAST)

with _dag("vlm_input_url"):
    GenerateOperator(task_id="extract", domain="document.invoice", url=REMOTE_URL, **FAST)

with _dag("vlm_input_object_storage"):
    # An ObjectStoragePath object (not a string): the operator reads it through fsspec.
    GenerateOperator(
        task_id="extract",
        domain="document.invoice",
        file=ObjectStoragePath(f"file://{Path(INVOICE).resolve()}"),
        **FAST,
    )

with _dag("vlm_input_memory_uri"):

    @task
    def stage() -> str:
        """Copy the invoice into fsspec's in-memory filesystem; return its URI."""
        target = ObjectStoragePath(MEMORY_URI)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(Path(INVOICE).read_bytes())
        return MEMORY_URI

    staged = stage()
    # A URI string, rendered from the upstream XCom.
    staged >> GenerateOperator(
        task_id="extract",
        domain="document.invoice",
        file="{{ ti.xcom_pull(task_ids='stage') }}",
        **FAST,
    )

with _dag("vlm_input_file_id"):

    @task
    def upload() -> str:
        """Store the invoice on the server first; downstream passes only its id."""
        hook = VlmHook()
        try:
            return hook.get_client().files.upload(Path(INVOICE)).id
        finally:
            hook.close()

    uploaded = upload()
    uploaded >> GenerateOperator(
        task_id="extract",
        domain="document.invoice",
        file_id="{{ ti.xcom_pull(task_ids='upload') }}",
        **FAST,
    )
