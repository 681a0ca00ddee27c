"""``InvoiceReviewOperator``: one flagged invoice, reviewed by a person in the Airflow UI (3.1+).

A ``HITLOperator`` of the standard provider whose form is built from the invoice at run time:
the subject and body name the file, the reasons and every extracted field; the editable fields
are pre-filled with the extracted values; the options are ``Save`` and ``Reject``. Its result is
one ``Correction`` dict (the reviewer's name from Airflow), or ``None`` when nobody answered
before ``response_timeout``: the invoice then stays flagged and unreviewed in the night's output,
and the run goes on. Importing this module needs Airflow 3.1 (``_compat.HAS_HITL``); the review
factory in ``operators/review.py`` picks it or the corrections file.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param
from airflow.sdk.definitions.param import ParamsDict

from airflow_provider_vlm._compat import hitl_timeout_kwargs
from airflow_provider_vlm.invoices.review_form import (
    NOTES,
    OPTIONS,
    ReviewForm,
    correction_from_answer,
    review_form,
)

#: How long a review waits for a person: less than a day, so a night nobody reviewed still ends
#: before the next night's run (the nightly DAG runs one night at a time).
DEFAULT_RESPONSE_TIMEOUT = timedelta(hours=20)


def form_params(form: ReviewForm) -> ParamsDict:
    """The form's fields as Airflow params (pre-filled, blank allowed) plus the reviewer's notes."""
    params: dict[str, Param] = {}
    for field in form.fields:
        why = "; ".join(field.reasons)
        params[field.name] = Param(
            field.value,
            type=["null", field.kind],
            title=field.name,
            description=f"flagged: {why}" if why else "as extracted",
        )
    params[NOTES] = Param(
        None, type=["null", "string"], title="notes", description="why you changed or rejected it"
    )
    return ParamsDict(params)


class InvoiceReviewOperator(HITLOperator):
    """Ask a person to correct or reject one flagged invoice; return the ``Correction`` dict.

    :param row: the invoice's output row (``input``, ``prediction_id``, ``response``,
        ``problems``), usually mapped over the night's flagged rows. Templated.
    :param response_timeout: how long to wait for an answer (default 20 hours). When it passes
        with no answer the task succeeds with ``None``: the invoice stays flagged, nothing is
        corrected or sent. ``None`` waits for ever (the next night waits too).
    """

    template_fields = (*HITLOperator.template_fields, "row")

    def __init__(
        self,
        *,
        row: Any,
        response_timeout: timedelta | None = DEFAULT_RESPONSE_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            subject="Review a flagged invoice",
            options=list(OPTIONS),
            multiple=False,
            **hitl_timeout_kwargs(HITLOperator, response_timeout),
            **kwargs,
        )
        self.row = row

    def _form(self) -> ReviewForm:
        if not isinstance(self.row, dict):
            raise TypeError(f"row must be an output row (a dict), got {type(self.row).__name__}")
        form = review_form(self.row)
        self.subject = form.subject
        self.body = form.body
        self.params = form_params(form)
        return form

    def execute(self, context: Any) -> Any:
        self._form()
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any] | None:
        """Build the correction from the answer; ``None`` when the wait ran out unanswered."""
        form = self._form()
        if event.get("error_type") == "timeout":
            self.log.warning(
                "nobody reviewed %s before the response timeout: it stays flagged, uncorrected",
                self.row.get("input"),
            )
            return None
        answer = super().execute_complete(context, event)
        user = answer.get("responded_by_user") or {}
        reviewer = user.get("name") or user.get("id") if isinstance(user, dict) else None
        responded_at = answer.get("responded_at")
        reviewed_at = responded_at.isoformat() if isinstance(responded_at, datetime) else responded_at
        correction = correction_from_answer(
            self.row,
            form,
            answer["chosen_options"],
            answer.get("params_input") or {},
            reviewer=reviewer,
            reviewed_at=None if reviewed_at is None else str(reviewed_at),
        )
        self.log.info(
            "%s: %s by %s%s",
            form.subject.removeprefix("Review invoice "),
            correction.decision,
            reviewer or "nobody (the defaults)",
            f" ({', '.join(sorted(correction.fields))})" if correction.fields else "",
        )
        return correction.to_dict()
