"""Nightly invoices: extract the day's invoices, validate them, summarise per issuer.

What it shows: one ``GenerateBatchOperator`` task extracts every invoice of the day
(``document.invoice``, deferrable: no worker slot is held while the model runs, retried with
exponential backoff without billing twice), then a validation task checks each result (required
fields, line items vs subtotal, subtotal + tax vs total), writes the validated rows as JSON Lines
plus a per-issuer summary, and reports the invoices that failed validation without failing the run.

Point it at real data: set the DAG params (or the environment variables ``VLM_INVOICE_SOURCE`` and
``VLM_INVOICE_OUTPUT``) to any folder or bucket Airflow's object storage can read, e.g.
``s3://acme-invoices/inbox`` (with an ``aws_default`` connection), and the ``vlm_default``
connection to the VLM Run API (empty host, your API key). The invoices of a day are read from
``<source>/<YYYY-MM-DD>/*.pdf``; results go to ``<output>/<YYYY-MM-DD>/``. The defaults point at
the demo's generated sample folder under ``$AIRFLOW_HOME/vlm_demo``.

Which day: the run that starts at 02:00 processes the day that has just ended. The timetable fires
at 02:00 and covers the 24 hours before it (``CronTriggerTimetable`` with a one-day interval), and
the folder is named after the start of that interval, so the run of 2026-11-21 02:00 reads
``<source>/2026-11-20/``. A backfill, a caught-up night and a Clear all name the same folder for
the same night.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, ObjectStoragePath, Param, task
from airflow.timetables.trigger import CronTriggerTimetable

from airflow_provider_vlm.operators.batch import GenerateBatchOperator
from vlm_demo.validation import format_summary_table, summarize_by_issuer, validate_invoice

_HOME = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
SOURCE = os.environ.get("VLM_INVOICE_SOURCE", f"file://{_HOME}/vlm_demo/inbox")
OUTPUT = os.environ.get("VLM_INVOICE_OUTPUT", f"file://{_HOME}/vlm_demo/output")
# The night a run processes: the day its data interval starts on (the day before the 02:00 run).
NIGHT = "{{ data_interval_start | ds }}"


def night_of(data_interval_start: Any) -> str:
    """``YYYY-MM-DD`` of the day a run processes; the same day as the ``NIGHT`` template."""
    return str(data_interval_start.strftime("%Y-%m-%d"))


with DAG(
    dag_id="vlm_nightly_invoices",
    description="Extract, validate and summarise the day's invoices with VLM Run",
    schedule=CronTriggerTimetable("0 2 * * *", timezone="UTC", interval=timedelta(days=1)),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "source": Param(SOURCE, type="string", description="folder or bucket with one sub-folder per day"),
        "output": Param(OUTPUT, type="string", description="folder or bucket for the results"),
    },
    default_args={
        "retries": 3,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    doc_md=__doc__,
    tags=["vlm", "example"],
) as dag:

    @task
    def list_invoices(params: dict[str, Any] | None = None, data_interval_start: Any = None) -> list[str]:
        """The night's PDFs, as URIs the batch operator can read on any worker."""
        assert params is not None and data_interval_start is not None  # injected from the context
        folder = ObjectStoragePath(params["source"]) / night_of(data_interval_start)
        if not folder.exists():
            return []
        return sorted(str(path) for path in folder.glob("*.pdf"))

    invoices = list_invoices()

    extract = GenerateBatchOperator(
        task_id="extract",
        media="document",
        domain="document.invoice",
        inputs=invoices,
        output_path="{{ params.output }}/" + NIGHT + "/extractions",
        deferrable=True,
        poll_interval=2.0,
        max_poll_interval=30.0,
        # A document the model cannot read is reported, not a reason to fail the night.
        max_failed_fraction=1.0,
    )

    @task
    def validate_and_report(
        summary: Any, params: dict[str, Any] | None = None, data_interval_start: Any = None
    ) -> dict[str, Any]:
        """Validate each extraction; write invoices.jsonl and issuer_summary.json; never fail the run."""
        assert params is not None and data_interval_start is not None  # injected from the context
        results = ObjectStoragePath(summary["output"]["results"]) if summary.get("output") else None
        rows: list[dict[str, Any]] = []
        lines = results.read_text().splitlines() if results is not None else []
        for line in lines:
            row = json.loads(line)
            problems = validate_invoice(row.get("response")) if row.get("status") == "completed" else []
            rows.append({**row, "problems": problems})
        out = ObjectStoragePath(params["output"]) / night_of(data_interval_start)
        out.mkdir(parents=True, exist_ok=True)
        (out / "invoices.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
        issuers = summarize_by_issuer(rows)
        (out / "issuer_summary.json").write_text(json.dumps(issuers, indent=2, sort_keys=True))
        flagged = [r for r in rows if r["problems"] or r.get("status") != "completed"]
        table = format_summary_table(issuers, flagged)
        (out / "report.txt").write_text(table + "\n")
        print(table)
        return {
            "night": night_of(data_interval_start),
            "invoices": len(rows),
            "failed_validation": [r["input"].rsplit("/", 1)[-1] for r in flagged],
            "output": str(out),
        }

    validate_and_report(extract.output)
