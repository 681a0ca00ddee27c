"""Submit then sense: start every prediction at once, wait for them in the triggerer, collect.

What it shows: ``GenerateOperator(wait_for_completion=False)``, mapped over the documents of a
folder, submits one prediction per document and returns right away (its record carries the
prediction id). A deferrable ``PredictionSensor``, mapped over those ids, waits for each
prediction in the triggerer; it returns the same record as a waiting ``GenerateOperator``, so
``collect`` reads the results from the sensors' XCom. Splitting submit and wait lets other work
run in between, or lets the wait live in another DAG (the prediction id is in the XCom
``prediction_id`` of each submit task).

Point it at real data: trigger the DAG with the param ``source`` (or set the environment variable
``VLM_SENSE_SOURCE``) to a folder or bucket Airflow's object storage can read, e.g.
``s3://acme-inbox/receipts`` (with an ``aws_default`` connection), set ``domain`` to the
extraction you want, and the ``vlm_default`` connection to the VLM Run API (empty host, your API
key). Every ``*.pdf`` of the folder is submitted. Left empty, a few sample invoices are generated
under ``$AIRFLOW_HOME/vlm_demo/vlm_submit_then_sense`` (needs the ``demo`` extra).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, ObjectStoragePath, Param, task

from airflow_provider_vlm.operators.generate import GenerateOperator
from airflow_provider_vlm.sensors.prediction import PredictionSensor

log = logging.getLogger(__name__)

SOURCE = os.environ.get("VLM_SENSE_SOURCE", "")
SAMPLES = (
    Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "vlm_demo" / "vlm_submit_then_sense"
)


def prediction_id(record: dict[str, Any]) -> str:
    """The id in a submitted prediction's record."""
    return str(record["id"])


with DAG(
    dag_id="vlm_submit_then_sense",
    description="Submit predictions without waiting, sense them in the triggerer, collect",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "source": Param(SOURCE, type="string", description="folder or bucket; empty: generated samples"),
        "domain": Param("document.invoice", type="string", description="the extraction domain"),
    },
    doc_md=__doc__,
    tags=["vlm", "example"],
) as dag:

    @task
    def list_documents(params: dict[str, Any] | None = None) -> list[str]:
        """The ``*.pdf`` files of ``source``, or three freshly generated sample invoices."""
        assert params is not None  # injected from the task context
        if params["source"]:
            return sorted(str(path) for path in ObjectStoragePath(params["source"]).glob("*.pdf"))
        from vlm_demo.samples import generate_samples

        return [str(sample.path) for sample in generate_samples(SAMPLES, count=3, bad=0)]

    submit = GenerateOperator.partial(
        task_id="submit",
        media="document",
        domain="{{ params.domain }}",
        wait_for_completion=False,
    ).expand(file=list_documents())

    wait = PredictionSensor.partial(
        task_id="wait",
        deferrable=True,
        poke_interval=2.0,
        timeout=3600,
    ).expand(prediction_id=submit.output.map(prediction_id))

    @task
    def collect(records: Any) -> dict[str, Any]:
        """One line per prediction, and the counts by status."""
        rows = [
            {"id": r["id"], "status": r["status"], "domain": r["domain"], "response": r["response"]}
            for r in records
        ]
        for row in rows:
            log.info("%s %s", row["id"], row["status"])
        return {"count": len(rows), "by_status": dict(Counter(r["status"] for r in rows)), "records": rows}

    collect(wait.output)
