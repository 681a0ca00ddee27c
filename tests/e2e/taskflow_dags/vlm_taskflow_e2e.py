"""``@task.vlm`` mapped over two invoices in real Airflow; map index 0 dies after submitting on its
first try (where it would defer) and its retry must re-attach. Inputs come from ``VLM_TEST_INVOICES``."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, get_current_context, task
from airflow.sdk.bases.decorator import task_decorator_factory

from airflow_provider_vlm.decorators.vlm import _VlmDecoratedOperator

INVOICES = json.loads(os.environ.get("VLM_TEST_INVOICES", "[]"))


class WorkerCrash(RuntimeError):
    """Stands for a worker dying right after submitting."""


class _CrashOnce(_VlmDecoratedOperator):
    def defer(self, **kwargs: Any) -> Any:
        ti = get_current_context()["ti"]
        if ti.map_index == 0 and int(ti.try_number) == 1:
            raise WorkerCrash("simulated worker crash after submitting")
        return super().defer(**kwargs)


def vlm_crash_once(**kwargs: Any) -> Any:
    return task_decorator_factory(decorated_operator_class=_CrashOnce, multiple_outputs=False, **kwargs)


with DAG(
    "vlm_taskflow_e2e",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    is_paused_upon_creation=False,
):

    @task
    def list_invoices() -> list[str]:
        return list(INVOICES)

    @vlm_crash_once(
        domain="document.invoice",
        deferrable=True,
        poll_interval=0.5,
        max_poll_interval=1.0,
        # One retry is the simulated crash's; the others absorb Airflow's defer race, which can
        # fail a try whose trigger fires within seconds of deferring (docs/troubleshooting.md).
        retries=3,
        retry_delay=timedelta(seconds=1),
    )
    def extract(path: str) -> str:
        return path

    @task
    def invoice_ids(records: Any) -> list[str]:
        return sorted(str(r["response"]["invoice_id"]) for r in records)

    invoice_ids(extract.expand(path=list_invoices()))
