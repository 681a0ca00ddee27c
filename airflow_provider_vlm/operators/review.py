"""The invoice review step: flagged invoices in, the reviewers' ``Correction`` dicts out.

:func:`review_invoices` adds a task group to a DAG. Where the Airflow line has human-in-the-loop
operators (3.1+), each flagged invoice becomes one mapped ``InvoiceReviewOperator`` task that a
person answers in the UI (Browse → Required Actions, or the task's page); a collecting task then
returns the list of corrections. Below 3.1, or with ``in_airflow=False``, the review is a file:
the task writes ``corrections_template.json`` (one pre-filled entry per flagged invoice) beside
``corrections_file`` and reads ``corrections_file`` when a person has put it there, so a re-run
of the night (Clear) applies it. Either way the group's output is the same list, so what comes
after (apply the corrections, send feedback) does not depend on the line.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import TaskGroup, task

from airflow_provider_vlm._compat import HAS_HITL, ObjectStoragePath
from airflow_provider_vlm.invoices.corrections import corrections_template, read_corrections
from airflow_provider_vlm.invoices.review_form import needs_review

log = logging.getLogger(__name__)

#: The template's name, written beside the corrections file.
TEMPLATE_NAME = "corrections_template.json"
#: Mirrors ``hitl_review.DEFAULT_RESPONSE_TIMEOUT`` without importing it below 3.1.
DEFAULT_RESPONSE_TIMEOUT = timedelta(hours=20)


def collect_corrections(answers: Any) -> list[dict[str, Any]]:
    """The answered reviews in map order; unanswered ones (``None``: timed out) dropped."""
    return [dict(answer) for answer in (answers or []) if answer]


def review_by_file(flagged: list[dict[str, Any]], corrections_file: str) -> list[dict[str, Any]]:
    """Write the template for ``flagged``; return the corrections a person left in ``corrections_file``.

    Only corrections of tonight's flagged invoices are returned (a stale file of another night
    names other predictions: they are logged and left out).
    """
    target = ObjectStoragePath(corrections_file)
    template = target.parent / TEMPLATE_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    template.write_text(corrections_template(flagged))
    if not target.exists():
        log.info(
            "%d invoice(s) need a person: fill in %s and save it as %s, then Clear this night's "
            "review task to apply it",
            len(flagged),
            template,
            target,
        )
        return []
    ids = {str(row.get("prediction_id")) for row in flagged}
    corrections = read_corrections(target.read_text())
    kept = [c for c in corrections if c.prediction_id in ids]
    if len(kept) != len(corrections):
        log.warning(
            "%s names %d prediction(s) that are not flagged tonight: left out",
            target,
            len(corrections) - len(kept),
        )
    log.info("read %d correction(s) from %s", len(kept), target)
    return [c.to_dict() for c in kept]


def review_invoices(
    flagged: Any,
    *,
    corrections_file: Any,
    group_id: str = "review",
    in_airflow: bool | None = None,
    response_timeout: timedelta | None = DEFAULT_RESPONSE_TIMEOUT,
    assigned_users: list[dict[str, str]] | None = None,
) -> Any:
    """Add the review task group; return its output: the list of ``Correction`` dicts.

    :param flagged: the night's flagged output rows (an XComArg or a list); rows whose extraction
        did not complete have nothing to correct and are left out.
    :param corrections_file: where a reviewer puts the filled-in corrections file (the review by
        file); templated, any ``ObjectStoragePath`` location.
    :param group_id: the task group's id.
    :param in_airflow: review in the Airflow UI (``True``) or by file (``False``); default: in the
        UI where the line has human-in-the-loop operators (3.1+), else by file.
    :param response_timeout: how long each review in the UI waits (default 20 hours); an
        invoice nobody reviewed stays flagged and uncorrected, and the run goes on.
    :param assigned_users: who may answer (``[{"id": ..., "name": ...}]``); default: anyone who
        may edit the DAG.
    """
    ui = HAS_HITL if in_airflow is None else in_airflow
    if ui and not HAS_HITL:
        raise ValueError("in_airflow=True needs Airflow 3.1 or later (human-in-the-loop operators)")
    with TaskGroup(group_id=group_id, tooltip="a person corrects or rejects the flagged invoices"):

        @task(retries=0)
        def to_review(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            """The flagged rows a person can correct (completed extractions with problems)."""
            picked = [row for row in rows or [] if needs_review(row)]
            log.info("%d of %d flagged invoice(s) go to review", len(picked), len(rows or []))
            return picked

        rows = to_review(flagged)
        if not ui:

            @task(retries=0)
            def corrections_from_file(rows: Any, corrections_file: Any) -> list[dict[str, Any]]:
                """The review by file: the template out, the filled-in file (if any) in."""
                return review_by_file(rows, corrections_file)

            return corrections_from_file(rows, corrections_file)

        from airflow_provider_vlm.operators.hitl_review import InvoiceReviewOperator

        answers = InvoiceReviewOperator.partial(
            task_id="invoice",
            response_timeout=response_timeout,
            assigned_users=assigned_users,
            retries=0,
        ).expand(row=rows)

        # Runs when nothing was mapped too (a night with no flagged invoice skips the reviews).
        @task(trigger_rule="none_failed", retries=0)
        def corrections(answers: Any) -> list[dict[str, Any]]:
            """The reviewers' corrections as one list."""
            found = collect_corrections(answers)
            log.info("%d review(s) answered", len(found))
            return found

        return corrections(answers.output)
