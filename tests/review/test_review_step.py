"""The review step's own logic: the form a reviewer sees, the correction an answer makes, what
happens when nobody answers, and the review by file.

The answers here are the event Airflow resumes the review task with (what the REST route and the
scheduler's timeout sweep write); the whole loop through a real Airflow is in
``tests/e2e/test_review_cluster.py`` and ``tests/ui/test_review_browser.py``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_vlm._compat import HAS_HITL
from airflow_provider_vlm.invoices.corrections import Correction, write_corrections
from airflow_provider_vlm.invoices.review_form import (
    REJECT,
    SAVE,
    correction_from_answer,
    needs_review,
    review_form,
)
from airflow_provider_vlm.operators.review import TEMPLATE_NAME, collect_corrections, review_by_file

ROW: dict[str, Any] = {
    "input": "file:///inbox/2026-11-20/INV-20261120-002.pdf",
    "status": "completed",
    "prediction_id": "pred-002",
    "response": {
        "invoice_id": "NW-2026-00412",
        "issuer_name": "Nordwind Logistik GmbH",
        "currency": "EUR",
        "subtotal": 1100.0,
        "tax_amount": 209.0,
        "total_amount": 1390.5,
        "items": [{"description": "Freight", "total_price": 1100.0}],
        "total_amount_metadata": {"confidence": 0.99},
    },
    "problems": [
        {
            "field": "total_amount",
            "message": "subtotal + tax is 1309.00, not 1390.50",
            "rule": "x",
            "why": "rule",
        },
        {"field": "items", "message": "line items do not add up", "rule": "y", "why": "rule"},
    ],
    "review_fields": {"total_amount": ["rule"], "items": ["rule"]},
}
AT = "2026-11-21T07:12:03+00:00"


def test_the_form_names_the_file_the_reasons_and_prefills_the_values() -> None:
    form = review_form(ROW)
    assert form.subject == "Review invoice INV-20261120-002.pdf: 2 problems"
    assert ROW["input"] in form.body and "pred-002" in form.body
    assert "[rule] subtotal + tax is 1309.00, not 1390.50" in form.body
    assert "Freight" in form.body  # line items are shown...
    names = [f.name for f in form.fields]
    assert "items" not in names  # ...not edited: a correction changes top-level values
    assert "total_amount_metadata" not in form.body
    total = form.field("total_amount")
    assert (total.value, total.kind, total.reasons) == (
        1390.5,
        "number",
        ("[rule] subtotal + tax is 1309.00, not 1390.50",),
    )
    assert form.field("invoice_id").value == "NW-2026-00412"
    assert form.field("customer_name").value is None  # not extracted: blank, still offered


def test_an_answer_becomes_a_correction_of_the_changed_fields_only() -> None:
    form = review_form(ROW)
    submitted = {f.name: f.value for f in form.fields}
    kept = correction_from_answer(
        ROW, form, [SAVE], {**submitted, "notes": ""}, reviewer="ana", reviewed_at=AT
    )
    assert (kept.decision, kept.fields, kept.notes) == ("accepted", {}, None)

    # The form sends numbers as text from some widgets, blanks as "": neither is a change by itself.
    typed = {
        **submitted,
        "total_amount": "1309.00",
        "subtotal": "1100",
        "customer_name": "",
        "notes": " VAT ",
    }
    fixed = correction_from_answer(ROW, form, [SAVE], typed, reviewer="ana", reviewed_at=AT)
    assert fixed == Correction(
        input=ROW["input"],
        prediction_id="pred-002",
        decision="corrected",
        fields={"total_amount": 1309.0},
        reviewer="ana",
        notes="VAT",
        reviewed_at=AT,
    )

    rejected = correction_from_answer(
        ROW,
        form,
        [REJECT],
        {**submitted, "total_amount": 1.0, "notes": "duplicate"},
        reviewer="ana",
        reviewed_at=AT,
    )
    assert (rejected.decision, rejected.fields, rejected.notes) == ("rejected", {}, "duplicate")
    with pytest.raises(ValueError, match="neither"):
        correction_from_answer(ROW, form, ["Maybe"], submitted, reviewer="ana", reviewed_at=AT)


def test_only_completed_extractions_with_problems_go_to_review() -> None:
    assert needs_review(ROW)
    assert not needs_review({**ROW, "problems": []})
    assert not needs_review(
        {"input": "x.pdf", "status": "failed", "prediction_id": "p", "problems": ["failed"]}
    )


def test_collected_corrections_leave_out_unanswered_reviews() -> None:
    answered = Correction(ROW["input"], "pred-002", "accepted", {}, "ana").to_dict()
    assert collect_corrections([answered, None, answered]) == [answered, answered]
    assert collect_corrections(None) == []


def test_review_by_file_writes_the_template_and_reads_the_filled_in_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "corrections.json"
    assert review_by_file([ROW], f"file://{target}") == []
    template = json.loads((target.parent / TEMPLATE_NAME).read_text())
    assert [e["prediction_id"] for e in template["corrections"]] == ["pred-002"]

    mine = Correction(ROW["input"], "pred-002", "corrected", {"total_amount": 1309.0}, "ana", "VAT")
    stale = Correction("old.pdf", "pred-of-another-night", "rejected", {}, "ana")
    target.write_text(write_corrections([mine, stale]))
    assert review_by_file([ROW], f"file://{target}") == [mine.to_dict()]


needs_hitl = pytest.mark.skipif(not HAS_HITL, reason="human-in-the-loop operators arrived in Airflow 3.1")


def _operator() -> Any:
    from airflow_provider_vlm.operators.hitl_review import InvoiceReviewOperator

    return InvoiceReviewOperator(task_id="review", row=ROW)


@needs_hitl
def test_the_operator_turns_the_ui_answer_into_a_correction_with_the_reviewer() -> None:
    operator = _operator()
    form = review_form(ROW)
    values = {**{f.name: f.value for f in form.fields}, "total_amount": 1309.0, "notes": "VAT"}
    event = {
        "chosen_options": [SAVE],
        "params_input": values,
        "responded_at": datetime(2026, 11, 21, 7, 12, 3, tzinfo=timezone.utc),
        "responded_by_user": {"id": "7", "name": "ana.reviewer"},
        "timedout": False,
    }
    result = operator.execute_complete({}, event)
    assert result == {
        "input": ROW["input"],
        "prediction_id": "pred-002",
        "decision": "corrected",
        "fields": {"total_amount": 1309.0},
        "reviewer": "ana.reviewer",
        "notes": "VAT",
        "reviewed_at": AT,
    }
    assert operator.subject == form.subject and operator.options == [SAVE, REJECT]
    assert set(operator.params) == {f.name for f in form.fields} | {"notes"}


@needs_hitl
def test_nobody_answering_before_the_timeout_leaves_the_invoice_unreviewed() -> None:
    from airflow_provider_vlm.operators.hitl_review import DEFAULT_RESPONSE_TIMEOUT

    operator = _operator()
    assert DEFAULT_RESPONSE_TIMEOUT.total_seconds() == 20 * 3600
    assert operator.defaults is None  # no default answer: a timeout never accepts an invoice
    # What the scheduler's sweep (3.3) or the trigger (3.1, 3.2) resumes an unanswered review with.
    event = {
        "error": "The Human-in-the-loop response timeout has passed without a response.",
        "error_type": "timeout",
    }
    assert operator.execute_complete({}, event) is None
