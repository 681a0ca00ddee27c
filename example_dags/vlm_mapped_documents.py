"""Mapped documents: one ``GenerateOperator`` task per document, for small sets.

What it shows: ``GenerateOperator.partial(...).expand(file=...)`` over the documents a listing
task finds, each mapped task deferrable (no worker slot held while the model runs) and in the
pool ``vlm_api``, which caps how many of them talk to the API at once; ``summarize`` then reads
one record per document from the mapped tasks' XCom. Each document is its own task instance: it
retries, clears and shows in the UI on its own.

Create the pool once (without it the scheduler does not run the mapped tasks)::

    airflow pools set vlm_api 4 "VLM Run API calls"

A deferred task leaves its pool slot free, so the pool caps concurrent submits and result
fetches; add ``--include-deferred`` to cap the predictions in flight as well.

When to switch to ``GenerateBatchOperator``: for more than a few dozen documents. Every mapped
task costs a worker start, a deferral and a resume of its own (measured on 2 cores: 1,000 mapped
documents took 938 s against 31 s for one batch task), and a list longer than
``[core] max_map_length`` (1,024 by default) fails the mapping outright. ``list_documents``
refuses such a list with a message that says so. ``vlm_nightly_invoices`` shows the batch form.

Point it at real data: trigger the DAG with the param ``source`` (or set the environment variable
``VLM_MAPPED_SOURCE``) to a folder or bucket Airflow's object storage can read, e.g.
``s3://acme-inbox/contracts`` (with an ``aws_default`` connection), set ``domain``, and the
``vlm_default`` connection to the VLM Run API (empty host, your API key). Every ``*.pdf`` of the
folder is extracted. Left empty, a few sample invoices are generated under
``$AIRFLOW_HOME/vlm_demo/vlm_mapped_documents`` (needs the ``demo`` extra).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, ObjectStoragePath, Param, task

try:
    from airflow.sdk import conf
except ImportError:  # Airflow 3.0 and 3.1 keep it outside the Task SDK
    from airflow.configuration import conf  # type: ignore[assignment]

from airflow_provider_vlm.operators.generate import GenerateOperator

log = logging.getLogger(__name__)

POOL = "vlm_api"
SOURCE = os.environ.get("VLM_MAPPED_SOURCE", "")
SAMPLES = Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "vlm_demo" / "vlm_mapped_documents"


with DAG(
    dag_id="vlm_mapped_documents",
    description="One mapped GenerateOperator per document, API concurrency capped by a pool",
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
        """The ``*.pdf`` files of ``source`` (at most ``max_map_length``), or generated samples."""
        assert params is not None  # injected from the task context
        if not params["source"]:
            from vlm_demo.samples import generate_samples

            return [str(sample.path) for sample in generate_samples(SAMPLES, count=3, bad=0)]
        documents = sorted(str(path) for path in ObjectStoragePath(params["source"]).glob("*.pdf"))
        limit = conf.getint("core", "max_map_length")
        if len(documents) > limit:
            raise ValueError(
                f"{len(documents)} documents exceed [core] max_map_length ({limit}): "
                "use GenerateBatchOperator for a set this size"
            )
        return documents

    documents = list_documents()

    extract = GenerateOperator.partial(
        task_id="extract",
        media="document",
        domain="{{ params.domain }}",
        pool=POOL,
        deferrable=True,
        poll_interval=2.0,
    ).expand(file=documents)

    @task
    def summarize(documents: Any, records: Any) -> list[dict[str, Any]]:
        """One row per document (mapped results keep the input order): id, status, credits used."""
        rows = [
            {
                "document": document,
                "id": record["id"],
                "status": record["status"],
                "credits_used": (record.get("usage") or {}).get("credits_used"),
            }
            for document, record in zip(documents, records, strict=True)
        ]
        for row in rows:
            log.info(
                "%s: %s %s, credits used %s", row["document"], row["id"], row["status"], row["credits_used"]
            )
        return rows

    summarize(documents, extract.output)
