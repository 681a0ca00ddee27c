"""DAGs of the stop tests: one ``GenerateOperator`` each, its prediction held open by the dev server.

Each DAG is one way of stopping a waiting task (``tests/e2e/test_kill_cluster.py``). The input
is a URL, which the dev server never fetches, so the DAGs need no file beside them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG

from airflow_provider_vlm.operators.batch import GenerateBatchOperator
from airflow_provider_vlm.operators.generate import GenerateOperator

COMMON: dict[str, Any] = {
    "task_id": "extract",
    "domain": "document.invoice",
    "url": "https://invoices.example/kill.pdf",
    "poll_interval": 1.0,
    "max_poll_interval": 2.0,
    "timeout": 3600,
    # The defer race (docs: troubleshooting) can fail a try whose trigger fires within seconds
    # of deferring; a retry then re-attaches, which these tests allow and count.
    "retries": 3,
    "retry_delay": timedelta(seconds=1),
}


def _dag(dag_id: str, **operator: Any) -> None:
    with DAG(
        dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, is_paused_upon_creation=False
    ):
        GenerateOperator(**{**COMMON, **operator})


_dag("vlm_stop_restart", deferrable=True)
_dag("vlm_stop_mark_failed", deferrable=True)
_dag("vlm_stop_clear", deferrable=True)
_dag("vlm_stop_execution_timeout", deferrable=True, execution_timeout=timedelta(seconds=20))
_dag("vlm_stop_blocking", deferrable=False)

with DAG(
    "vlm_stop_batch",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    is_paused_upon_creation=False,
):
    GenerateBatchOperator(
        task_id="extract",
        domain="document.invoice",
        inputs=[f"https://invoices.example/batch-{n}.pdf" for n in range(3)],
        deferrable=True,
        poll_interval=1.0,
        max_poll_interval=2.0,
        retries=3,
        retry_delay=timedelta(seconds=1),
    )
