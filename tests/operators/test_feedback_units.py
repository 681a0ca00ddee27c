"""``VlmFeedbackOperator`` without a run: what it sends per decision, what fails at parse time."""

from __future__ import annotations

import pytest

from airflow_provider_vlm.client import VlmInputError
from airflow_provider_vlm.invoices import Correction
from airflow_provider_vlm.operators.feedback import (
    VlmFeedbackOperator,
    as_corrections,
    feedback_idempotency_key,
    feedback_notes,
    marker,
)
from tests.operators.test_docstrings import undocumented

FIX = Correction("file:///inbox/a.pdf", "pred-a", "corrected", {"total_amount": 10.0}, "anna", "misread")


def test_every_parameter_is_documented() -> None:
    assert undocumented(VlmFeedbackOperator) == []


def test_notes_end_with_the_marker_and_leave_the_reviewer_out() -> None:
    assert feedback_notes(FIX) == f"corrected: misread\n{marker(FIX.key)}"
    plain = Correction("file:///inbox/a.pdf", "pred-a", "accepted", {}, "anna")
    assert feedback_notes(plain) == f"accepted\n{marker(plain.key)}"
    assert "anna" not in feedback_notes(FIX)
    # The same correction, the same Idempotency-Key; another correction, another key.
    assert feedback_idempotency_key(FIX.key) == feedback_idempotency_key(
        Correction.from_dict(FIX.to_dict()).key
    )
    assert feedback_idempotency_key(FIX.key) != feedback_idempotency_key(plain.key)


def test_a_literal_bad_correction_fails_when_the_dag_is_parsed() -> None:
    with pytest.raises(VlmInputError, match=r"send: correction 1: .*'maybe'"):
        VlmFeedbackOperator(
            task_id="send", corrections=[FIX.to_dict(), {**FIX.to_dict(), "decision": "maybe"}]
        )
    # A template is checked once rendered.
    VlmFeedbackOperator(task_id="send", corrections="{{ ti.xcom_pull(task_ids='review') }}")


def test_rendered_corrections_accept_dicts_and_objects_only_in_a_list() -> None:
    assert as_corrections([FIX, FIX.to_dict()], owner="t") == [FIX, FIX]
    assert as_corrections(None, owner="t") == []
    with pytest.raises(VlmInputError, match="must be a list"):
        as_corrections("[{...}]", owner="t")
