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

How the night is run, as a finance team would:

- Cost: ``service_tier="flex"``, half the standard credits. Nobody waits for a 02:00 batch, so it
  can wait for the platform's spare capacity. ``max_credits`` caps what one night may bill: the
  ``max_credits`` param, else the Variable ``vlm_invoice_max_credits``, else 100 credits. That is
  about 100 one-page invoices at flex (the sample night of 12 bills 12): room for a busy night, while
  a wrong folder or a delivery dropped twice stops there, before it is billed, and fails the task
  naming the budget. Raise the Variable and Clear the task to go on: nothing is billed twice.
- Privacy: ``allow_training=False``. Invoices carry names, addresses and bank details, and the
  platform's default lets it train on what it is sent.
- Confidence: ``confidence=True`` asks for a confidence per extracted field. A required field
  (invoice id, issuer, total, currency, issue date) below the ``min_confidence`` param (default
  0.6) sends the invoice to review, like one that fails a rule. Fields read from an e-invoice's
  embedded XML come back near-certain; a value the model only guessed from its shape (say an
  issuer found by its company suffix, with no label) does not make 0.6.

The report and ``invoices.jsonl`` say, for each flagged invoice, which fields and why (``rule``:
a failed rule, ``confidence``: below the floor). The summary gives the credits billed per tier.

Review (the ``review`` param, off by default so the demo runs unattended): a person corrects or
rejects each flagged invoice. On Airflow 3.1+ each one is a task waiting in the UI (Browse →
Required Actions): it shows the file, the reasons and the extracted fields, pre-filled; an
invoice nobody reviews within 20 hours stays flagged and the night ends. On 3.0 the review is a
file: the run writes ``corrections_template.json`` beside the output; fill it in, save it as
``corrections.json`` there and Clear the night's review task. The corrections are applied to
``invoices.jsonl`` (each reviewed row gets a ``review`` entry: who changed which field from what
to what, or rejected it) and sent to VLM Run as feedback, once per correction however often the
feedback task is retried.

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
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pendulum
from airflow.sdk import DAG, ObjectStoragePath, Param, task
from airflow.timetables.trigger import CronTriggerTimetable

from airflow_provider_vlm.invoices import check_invoice, format_summary_table, is_flagged, summarize_by_issuer
from airflow_provider_vlm.invoices.corrections import Correction, apply_corrections
from airflow_provider_vlm.operators.batch import GenerateBatchOperator
from airflow_provider_vlm.operators.feedback import VlmFeedbackOperator
from airflow_provider_vlm.operators.review import review_invoices

log = logging.getLogger(__name__)

_HOME = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
SOURCE = os.environ.get("VLM_INVOICE_SOURCE", f"file://{_HOME}/vlm_demo/inbox")
OUTPUT = os.environ.get("VLM_INVOICE_OUTPUT", f"file://{_HOME}/vlm_demo/output")
_NIGHT_FORM = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Below this a required field's confidence sends the invoice to review (see the docstring).
MIN_CONFIDENCE = 0.6
#: Credits one night may bill when neither the param nor the Variable says otherwise.
MAX_CREDITS = 100


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


def review_of(row: dict[str, Any], min_confidence: float) -> dict[str, Any]:
    """What a person must look at in one output row: ``problems`` and ``review_fields``.

    Each problem is ``{"field", "message", "rule", "why"}``, ``why`` being ``rule`` (an invoice
    rule failed) or ``confidence`` (a required field below ``min_confidence``); ``review_fields``
    maps each flagged field to those reasons. An extraction that did not complete has neither:
    its status says why.
    """
    if row.get("status") != "completed":
        return {"problems": [], "review_fields": {}}
    response = row.get("response")
    found = [(problem, "rule") for problem in check_invoice(response)]
    if isinstance(response, dict):
        floor = check_invoice(response, rules=[], min_confidence=min_confidence)
        found += [(problem, "confidence") for problem in floor]
    problems = [{**problem.to_dict(), "why": why} for problem, why in found]
    fields: dict[str, list[str]] = {}
    for problem in problems:
        reasons = fields.setdefault(problem["field"], [])
        if problem["why"] not in reasons:
            reasons.append(problem["why"])
    return {"problems": problems, "review_fields": fields}


def checked_rows(summary: dict[str, Any], floor: float) -> list[dict[str, Any]]:
    """The batch's result rows, each with what a person must look at (:func:`review_of`)."""
    results = ObjectStoragePath(summary["output"]["results"]) if summary.get("output") else None
    lines = results.read_text().splitlines() if results is not None else []
    return [{**row, **review_of(row, floor)} for row in map(json.loads, lines)]


def write_rows(out: ObjectStoragePath, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write ``invoices.jsonl`` and ``issuer_summary.json``; return the per-issuer summary."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "invoices.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    issuers = summarize_by_issuer(rows)
    (out / "issuer_summary.json").write_text(json.dumps(issuers, indent=2, sort_keys=True))
    return issuers


def reasons_for_report(row: dict[str, Any]) -> dict[str, Any]:
    """The row with each problem as ``[rule] message`` or ``[confidence] message`` for the report."""
    return {**row, "problems": [f"[{p['why']}] {p['message']}" for p in row.get("problems") or []]}


def credits_line(by_tier: dict[str, float], budget: dict[str, Any] | None) -> str:
    """``Credits billed: 12 at flex (max_credits 100)``: the batch's bill, per service tier."""
    billed = ", ".join(f"{credits:g} at {tier}" for tier, credits in sorted(by_tier.items())) or "none"
    cap = f" (max_credits {budget['max_credits']:g})" if budget and "max_credits" in budget else ""
    return f"Credits billed: {billed}{cap}"


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
        "min_confidence": Param(
            MIN_CONFIDENCE,
            type="number",
            minimum=0,
            maximum=1,
            description="a required field below this confidence sends the invoice to review",
        ),
        "review": Param(
            False,
            type="boolean",
            description="send flagged invoices to a person (in the UI on Airflow 3.1+, else a "
            "corrections file), apply the corrections and send them to VLM Run as feedback",
        ),
        "max_credits": Param(
            None,
            type=["null", "number"],
            exclusiveMinimum=0,
            description=f"most credits the night may bill; empty: the Variable vlm_invoice_max_credits, "
            f"else {MAX_CREDITS}",
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
            "corrections": f"{output}/corrections.json",
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
        # Cost, privacy, confidence: see the DAG's docs.
        service_tier="flex",
        allow_training=False,
        confidence=True,
        max_credits=(
            "{{ params.max_credits if params.max_credits is not none "
            f"else var.value.get('vlm_invoice_max_credits', {MAX_CREDITS}) }}}}"
        ),
    )

    @task
    def validate_and_report(
        summary: Any, night: dict[str, str], params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Check each extraction; write invoices.jsonl, issuer_summary.json and report.txt; never fail the run."""
        floor = float((params or {}).get("min_confidence", MIN_CONFIDENCE))
        rows = checked_rows(summary, floor)
        out = ObjectStoragePath(night["output"])
        issuers = write_rows(out, rows)
        flagged = [r for r in rows if is_flagged(r)]
        credits = summary.get("credits_by_tier") or {}
        report = "\n".join(
            [
                format_summary_table(issuers, [reasons_for_report(r) for r in flagged]),
                "",
                credits_line(credits, summary.get("budget")),
                f"Review: a failed rule ([rule]) or a required field below min_confidence {floor:.2f} "
                "([confidence]).",
            ]
        )
        (out / "report.txt").write_text(report + "\n")
        log.info("invoices of the night of %s (report: %s):\n%s", night["night"], out / "report.txt", report)
        return {
            "night": night["night"],
            "invoices": len(rows),
            "failed_validation": [r["input"].rsplit("/", 1)[-1] for r in flagged],
            "credits_by_tier": credits,
            "output": str(out),
        }

    checked = validate_and_report(extract.output, night)

    # The review branch (the ``review`` param): skipped, with all that follows it, when off.
    @task.short_circuit(retries=0)
    def review_wanted(params: dict[str, Any] | None = None) -> bool:
        """Whether this run sends its flagged invoices to a person."""
        return bool((params or {}).get("review"))

    @task(retries=0)
    def flagged_invoices(summary: Any, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The night's flagged rows, as the validation step wrote them."""
        floor = float((params or {}).get("min_confidence", MIN_CONFIDENCE))
        return [row for row in checked_rows(summary, floor) if is_flagged(row)]

    flagged = flagged_invoices(extract.output)
    checked >> review_wanted() >> flagged
    corrections = review_invoices(flagged, corrections_file=night["corrections"])

    @task
    def apply_review(
        corrections: list[dict[str, Any]],
        summary: Any,
        night: dict[str, str],
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Rewrite invoices.jsonl and issuer_summary.json with the corrections (who changed what)."""
        floor = float((params or {}).get("min_confidence", MIN_CONFIDENCE))
        # From the batch's results again, not from invoices.jsonl: a retry applies them once.
        rows = apply_corrections(checked_rows(summary, floor), [Correction.from_dict(c) for c in corrections])
        write_rows(ObjectStoragePath(night["output"]), rows)
        decided = dict(Counter(c["decision"] for c in corrections))
        log.info("review of the night of %s applied: %s", night["night"], decided or "no corrections")
        return {"night": night["night"], "reviewed": len(corrections), "decisions": decided}

    applied = apply_review(corrections, extract.output, night)
    # One feedback per correction, never twice for the same one however often this is retried.
    applied >> VlmFeedbackOperator(task_id="feedback", corrections=corrections)
