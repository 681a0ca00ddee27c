"""TaskFlow: ``@task.vlm`` over a few invoices, then plain Python on the extracted fields.

What it shows: a function decorated with ``@task.vlm(domain=..., media=...)`` returns the input
(here a path; a URI such as ``s3://…``, an http(s) URL or a dict such as
``{"file": path, "config": {...}}`` work the same), and the task returns the prediction record.
``extract.expand(path=...)`` maps it over the documents a listing task finds; each mapped task
defers while the model runs and retries without a second billed prediction, exactly as
``GenerateOperator`` does. ``totals`` reads ``record["response"]`` of every record.

Point it at real data: trigger the DAG with the param ``source`` (or set the environment variable
``VLM_TASKFLOW_SOURCE``) to a folder or bucket Airflow's object storage can read, and the
``vlm_default`` connection to the VLM Run API (empty host, your API key). Left empty, a few sample
invoices are generated under ``$AIRFLOW_HOME/vlm_demo/vlm_taskflow_invoices`` (needs the ``demo``
extra). For more than a few dozen documents use ``GenerateBatchOperator`` (see
``vlm_nightly_invoices``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, ObjectStoragePath, Param, task

log = logging.getLogger(__name__)

SOURCE = os.environ.get("VLM_TASKFLOW_SOURCE", "")
SAMPLES = (
    Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "vlm_demo" / "vlm_taskflow_invoices"
)


with DAG(
    dag_id="vlm_taskflow_invoices",
    description="@task.vlm mapped over invoices; the totals read from record['response']",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"source": Param(SOURCE, type="string", description="folder or bucket; empty: generated samples")},
    doc_md=__doc__,
    tags=["vlm", "example"],
) as dag:

    @task
    def list_invoices(params: dict[str, Any] | None = None) -> list[str]:
        """The ``*.pdf`` files of ``source``, or three generated sample invoices."""
        assert params is not None  # injected from the task context
        if not params["source"]:
            from vlm_demo.samples import generate_samples

            return [str(sample.path) for sample in generate_samples(SAMPLES, count=3, bad=0)]
        return sorted(str(path) for path in ObjectStoragePath(params["source"]).glob("*.pdf"))

    @task.vlm(domain="document.invoice", media="document", deferrable=True, poll_interval=2.0)
    def extract(path: str) -> str:
        """The input of the prediction: the invoice's path."""
        return path

    @task
    def totals(records: Any) -> dict[str, float]:
        """Total amount per currency, from each record's ``response``."""
        sums: dict[str, float] = {}
        for record in records:
            response = record["response"] or {}
            currency = response.get("currency") or "?"
            sums[currency] = round(sums.get(currency, 0.0) + float(response.get("total_amount") or 0), 2)
        log.info("total amount per currency: %s", sums)
        return sums

    totals(extract.expand(path=list_invoices()))
