"""DAGs of the Airflow-native tests: ``@task.vlm`` with ``.expand``, a crash after submitting,
the batch operator with an output folder, and a large ``document.markdown`` result.

Inputs come from the environment the harness sets (``VLM_TEST_INVOICE``, ``VLM_TEST_INVOICES``,
``VLM_TEST_OUTPUT``), so the file holds no machine paths.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, get_current_context, task
from airflow.sdk.bases.decorator import task_decorator_factory

from airflow_provider_vlm.decorators.vlm import _VlmDecoratedOperator
from airflow_provider_vlm.operators.batch import GenerateBatchOperator

INVOICE = os.environ.get("VLM_TEST_INVOICE", "missing.pdf")
# A placeholder keeps the file parseable when another test loads this DAG folder.
INVOICES = json.loads(os.environ.get("VLM_TEST_INVOICES", '["missing.pdf"]'))
OUTPUT = os.environ.get("VLM_TEST_OUTPUT", "output")

START = datetime(2026, 1, 1)
#: Deferring at once (defer_after=0): these DAGs test the deferred path with fast predictions.
FAST = {"poll_interval": 0.3, "max_poll_interval": 1.0, "defer_after": 0}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START, catchup=False)


@task
def list_invoices() -> list[str]:
    return list(INVOICES)


@task
def invoice_ids(records: list[dict[str, Any]]) -> list[str]:
    return sorted(str(record["response"]["invoice_id"]) for record in records)


with _dag("vlm_native"):

    @task.vlm(domain="document.invoice", deferrable=True, **FAST)
    def extract(path: str) -> str:
        return path

    invoice_ids(extract.expand(path=list_invoices()))
    GenerateBatchOperator(
        task_id="batch",
        domain="document.invoice",
        inputs=INVOICES,
        output_path=OUTPUT,
        deferrable=True,
        **FAST,
    )


class WorkerCrash(RuntimeError):
    """Stands for a worker dying right after submitting; the task retries."""


class _CrashingDecorated(_VlmDecoratedOperator):
    def defer(self, **kwargs: Any) -> Any:
        if int(get_current_context()["ti"].try_number) == 1:
            raise WorkerCrash("simulated worker crash after submitting")
        return super().defer(**kwargs)


def crashing_vlm(**kwargs: Any) -> Any:
    return task_decorator_factory(
        decorated_operator_class=_CrashingDecorated, multiple_outputs=False, **kwargs
    )


with _dag("vlm_taskflow_crash"):

    @crashing_vlm(
        domain="document.invoice", deferrable=True, retries=2, retry_delay=timedelta(seconds=1), **FAST
    )
    def extract_once(path: str) -> dict[str, Any]:
        return {"file": path, "metadata": {"session_id": "taskflow-crash"}}

    extract_once(INVOICE)


with _dag("vlm_markdown_xcom"):

    @task.vlm(domain="document.markdown", deferrable=True, **FAST)
    def markdown() -> str:
        return INVOICE

    @task
    def pages(record: dict[str, Any]) -> int:
        return len(record["response"]["pages"])

    pages(markdown())
