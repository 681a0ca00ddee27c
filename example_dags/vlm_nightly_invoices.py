"""Nightly invoices: extract the night's invoices, check them against the invoice rules, report.

What it shows: one ``GenerateBatchOperator`` task extracts every invoice of the night
(``document.invoice``, deferrable: no worker slot is held while the model runs, retried with
exponential backoff without billing twice), then a validation task runs the provider's invoice
rules on each result (``airflow_provider_vlm.invoices``: required fields, line items vs subtotal,
subtotal + tax vs total, an ISO 4217 currency, dates that parse), writes the checked rows as JSON
Lines plus a per-issuer summary, and logs a report of the invoices that need a person, without
failing the run. A night with no invoice at all fails at once (``min_inputs=1``): an empty inbox
is a missed delivery, not a quiet night. The file needs only Airflow and the provider: copy it
into a deployment's DAG folder as it is.

Point it at real data: set the DAG params (or the environment variables ``VLM_INVOICE_SOURCE`` and
``VLM_INVOICE_OUTPUT``) to any folder or bucket Airflow's object storage can read, e.g.
``s3://acme-invoices/inbox`` (with an ``aws_default`` connection), and the ``vlm_default``
connection to the VLM Run API (empty host, your API key). The invoices of a night are read from
``<source>/<YYYY-MM-DD>/*.pdf``; results go to ``<output>/<YYYY-MM-DD>/``. The defaults point at
the demo's generated sample folder under ``$AIRFLOW_HOME/vlm_demo``.

Which night: the run that starts at 02:00 processes the day that has just ended. The timetable fires
at 02:00 and covers the 24 hours before it (``CronTriggerTimetable`` with a one-day interval), and
the folder is named after the start of that interval, so the run of 2026-11-21 02:00 reads
``<source>/2026-11-20/``. A backfill, a caught-up night and a Clear all name the same folder for
the same night. A run triggered by hand without a logical date (the UI and the REST API allow it)
has no interval: it processes the day before the moment it was triggered for (``run_after``). The
trigger form's ``night`` param (``YYYY-MM-DD``, empty by default) names a night explicitly and wins
over both; a value that is not such a date fails the run at once, naming the value.
"""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pendulum
from airflow.sdk import DAG, ObjectStoragePath, Param, task
from airflow.timetables.trigger import CronTriggerTimetable

from airflow_provider_vlm.invoices import check_invoice, format_summary_table, is_flagged, summarize_by_issuer
from airflow_provider_vlm.operators.batch import GenerateBatchOperator

log = logging.getLogger(__name__)

_HOME = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
SOURCE = os.environ.get("VLM_INVOICE_SOURCE", f"file://{_HOME}/vlm_demo/inbox")
OUTPUT = os.environ.get("VLM_INVOICE_OUTPUT", f"file://{_HOME}/vlm_demo/output")
_NIGHT_FORM = re.compile(r"\d{4}-\d{2}-\d{2}")


def night_of(requested: Any, data_interval_start: datetime | None, run_after: datetime | None) -> str:
    """``YYYY-MM-DD`` of the night a run processes.

    The ``night`` param when given; else the day the data interval starts on (scheduled,
    backfilled and cleared runs); else, for a run without a logical date, the day before
    ``run_after``. A ``night`` that is not a calendar date in that form raises ``ValueError``.
    """
    if requested is not None and str(requested).strip():
        text = str(requested).strip()
        try:
            if not _NIGHT_FORM.fullmatch(text):
                raise ValueError(text)
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError(
                f"the night param is {requested!r}: expected a date as YYYY-MM-DD (e.g. 2026-11-20), "
                "or empty for the night before the run"
            ) from None
    if data_interval_start is not None:
        return data_interval_start.astimezone(timezone.utc).strftime("%Y-%m-%d")
    if run_after is None:
        raise ValueError("the run has neither a data interval nor run_after: set the night param")
    return (run_after.astimezone(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d")


with DAG(
    dag_id="vlm_nightly_invoices",
    description="Extract, check and summarise the night's invoices with VLM Run",
    schedule=CronTriggerTimetable("0 2 * * *", timezone="UTC", interval=timedelta(days=1)),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "source": Param(SOURCE, type="string", description="folder or bucket with one sub-folder per night"),
        "output": Param(OUTPUT, type="string", description="folder or bucket for the results"),
        "night": Param(
            None,
            type=["null", "string"],
            title="Night (YYYY-MM-DD)",
            description="the night to process, e.g. 2026-11-20; empty: the night before the run",
        ),
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
    # No retries: it reads nothing but the run, so a retry would fail the same way.
    @task(multiple_outputs=True, retries=0)
    def pick_night(
        params: dict[str, Any] | None = None, dag_run: Any = None, data_interval_start: Any = None
    ) -> dict[str, str]:
        """The night this run processes and its folders (see the DAG's docs: "Which night")."""
        params = params or {}
        night = night_of(params.get("night"), data_interval_start, getattr(dag_run, "run_after", None))
        output = f"{str(params['output']).rstrip('/')}/{night}"
        log.info("processing the night of %s", night)
        return {
            "night": night,
            "inbox": f"{str(params['source']).rstrip('/')}/{night}",
            "output": output,
            "extractions": f"{output}/extractions",
        }

    # multiple_outputs: night["inbox"] is that key's XCom, resolved when the batch renders.
    night: Any = pick_night()

    extract = GenerateBatchOperator(
        task_id="extract",
        media="document",
        domain="document.invoice",
        source=night["inbox"],
        pattern="*.pdf",
        output_path=night["extractions"],
        deferrable=True,
        poll_interval=2.0,
        max_poll_interval=30.0,
        # A document the model cannot read is reported, not a reason to fail the night...
        max_failed_fraction=1.0,
        # ...but a night without a single invoice is: the delivery is missing.
        min_inputs=1,
    )

    @task
    def validate_and_report(summary: Any, night: dict[str, str]) -> dict[str, Any]:
        """Check each extraction; write invoices.jsonl, issuer_summary.json and report.txt; never fail the run."""
        results = ObjectStoragePath(summary["output"]["results"]) if summary.get("output") else None
        rows: list[dict[str, Any]] = []
        lines = results.read_text().splitlines() if results is not None else []
        for line in lines:
            row = json.loads(line)
            problems = check_invoice(row.get("response")) if row.get("status") == "completed" else []
            rows.append({**row, "problems": [problem.to_dict() for problem in problems]})
        out = ObjectStoragePath(night["output"])
        out.mkdir(parents=True, exist_ok=True)
        (out / "invoices.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
        issuers = summarize_by_issuer(rows)
        (out / "issuer_summary.json").write_text(json.dumps(issuers, indent=2, sort_keys=True))
        flagged = [r for r in rows if is_flagged(r)]
        table = format_summary_table(issuers, flagged)
        (out / "report.txt").write_text(table + "\n")
        log.info("invoices of the night of %s (report: %s):\n%s", night["night"], out / "report.txt", table)
        return {
            "night": night["night"],
            "invoices": len(rows),
            "failed_validation": [r["input"].rsplit("/", 1)[-1] for r in flagged],
            "output": str(out),
        }

    validate_and_report(extract.output, night)
