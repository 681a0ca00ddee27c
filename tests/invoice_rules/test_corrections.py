"""Corrections: a reviewer's decisions, their identity, applying them to the night, the corrections file."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_vlm.invoices import (
    Correction,
    apply_corrections,
    corrections_template,
    read_corrections,
    write_corrections,
)
from tests.invoice_rules.test_rules_ported import good_invoice


def row(prediction_id: str, **response: Any) -> dict[str, Any]:
    return {
        "input": f"file:///inbox/{prediction_id}.pdf",
        "status": "completed",
        "prediction_id": prediction_id,
        "response": good_invoice(**response),
        "problems": [],
        "review_fields": {},
    }


def bad_total_row() -> dict[str, Any]:
    """A row whose total was misread: subtotal + tax is 1189.99, the model read 1198.99."""
    bad = row("pred-bad", total_amount=1198.99)
    bad["problems"] = [
        {
            "field": "total_amount",
            "message": "subtotal + tax != total",
            "rule": "subtotal_plus_tax_is_total",
            "why": "rule",
        }
    ]
    bad["review_fields"] = {"total_amount": ["rule"]}
    return bad


def fix_total(**extra: Any) -> Correction:
    return Correction(
        input="file:///inbox/pred-bad.pdf",
        prediction_id="pred-bad",
        decision="corrected",
        fields={"total_amount": 1189.99},
        reviewer="anna",
        **extra,
    )


def test_round_trip_through_json() -> None:
    correction = fix_total(notes="total misread", reviewed_at="2026-11-21T08:00:00+00:00")
    again = Correction.from_dict(json.loads(json.dumps(correction.to_dict())))
    assert again == correction
    assert again.key == correction.key


def test_key_is_what_was_decided_not_who_or_when() -> None:
    base = fix_total()
    assert len(base.key) == 16
    assert fix_total(reviewed_at="2026-11-22T00:00:00Z").key == base.key
    assert Correction(**{**base.to_dict(), "reviewer": "ben"}).key == base.key
    assert fix_total(notes="other").key != base.key
    assert Correction(**{**base.to_dict(), "fields": {"total_amount": 1190.0}}).key != base.key
    assert Correction(**{**base.to_dict(), "prediction_id": "pred-2"}).key != base.key


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"decision": "maybe"}, "maybe"),
        ({"decision": "accepted"}, "'accepted' but has fields"),
        ({"fields": {}}, "changes no field"),
        ({"prediction_id": ""}, "prediction_id"),
        ({"reviewer": 7}, "reviewer"),
        ({"colour": "red"}, "colour"),
        ({"fields": {"total_amount": float("nan")}}, "not JSON"),
    ],
)
def test_bad_values_name_the_key(data: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Correction.from_dict({**fix_total().to_dict(), **data})


def test_missing_key_is_named() -> None:
    data = fix_total().to_dict()
    del data["prediction_id"]
    with pytest.raises(ValueError, match="lacks prediction_id"):
        Correction.from_dict(data)


def test_corrected_row_records_who_changed_what_and_is_rechecked() -> None:
    good, bad = row("pred-good"), bad_total_row()
    out = apply_corrections([good, bad], [fix_total(notes="read 8 for 9")])
    assert out[0] == good
    fixed = out[1]
    assert fixed["response"]["total_amount"] == 1189.99
    assert fixed["problems"] == [] and fixed["review_fields"] == {}
    assert fixed["review"] == {
        "decision": "corrected",
        "reviewer": "anna",
        "reviewed_at": None,
        "notes": "read 8 for 9",
        "changes": [{"field": "total_amount", "from": 1198.99, "to": 1189.99}],
    }
    # The input rows are left as they were.
    assert bad["response"]["total_amount"] == 1198.99 and "review" not in bad


def test_a_correction_that_still_breaks_a_rule_keeps_the_row_flagged() -> None:
    wrong = Correction("file:///inbox/pred-bad.pdf", "pred-bad", "corrected", {"total_amount": 1.0}, "anna")
    fixed = apply_corrections([bad_total_row()], [wrong])[0]
    assert [p["field"] for p in fixed["problems"]] == ["total_amount"]
    assert fixed["review_fields"] == {"total_amount": ["rule"]}


def test_rejected_and_accepted_rows_keep_response_and_problems() -> None:
    bad = bad_total_row()
    rejected = Correction(bad["input"], "pred-bad", "rejected", {}, "anna", notes="duplicate invoice")
    out = apply_corrections([bad], [rejected])[0]
    assert out["response"] == bad["response"] and out["problems"] == bad["problems"]
    assert out["review"]["decision"] == "rejected" and out["review"]["changes"] == []
    accepted = Correction(bad["input"], "pred-bad", "accepted", {}, "ben")
    assert apply_corrections([bad], [accepted])[0]["review"]["reviewer"] == "ben"


def test_unknown_prediction_is_named() -> None:
    stray = Correction("file:///inbox/x.pdf", "pred-nowhere", "accepted", {}, None)
    with pytest.raises(ValueError, match=r"pred-nowhere \(file:///inbox/x.pdf\)"):
        apply_corrections([row("pred-good")], [stray])


def test_two_different_corrections_of_one_prediction_are_refused() -> None:
    other = Correction("file:///inbox/pred-bad.pdf", "pred-bad", "rejected", {}, "ben")
    with pytest.raises(ValueError, match="two different corrections for prediction pred-bad"):
        apply_corrections([bad_total_row()], [fix_total(), other])
    # The same decision twice (a re-read file) is one correction.
    assert (
        apply_corrections([bad_total_row()], [fix_total(), fix_total()])[0]["review"]["decision"]
        == "corrected"
    )


def test_file_round_trip() -> None:
    corrections = [fix_total(notes="n"), Correction("file:///inbox/b.pdf", "pred-b", "rejected", {}, "ben")]
    assert read_corrections(write_corrections(corrections)) == corrections


def test_template_prefills_flagged_fields_and_reads_back_only_changes() -> None:
    bad = bad_total_row()
    bad["problems"].append(
        {
            "field": "items[1].total_price",
            "message": "line 2 does not add up",
            "rule": "line_items_add_up",
            "why": "rule",
        }
    )
    text = corrections_template([bad, {**row("pred-noid"), "prediction_id": None}])
    doc = json.loads(text)
    [entry] = doc["corrections"]
    assert entry["input"] == bad["input"] and entry["prediction_id"] == "pred-bad"
    assert entry["decision"] == "pending"
    assert entry["extracted"]["total_amount"] == 1198.99 and "items" in entry["extracted"]
    assert entry["fields"] == entry["extracted"]
    assert entry["reasons"]["total_amount"] == ["[rule] subtotal + tax != total"]
    # Untouched, nothing is decided.
    assert read_corrections(text) == []
    # A person corrects the total and leaves the pre-filled items alone: only the total changed.
    entry.update(decision="corrected", reviewer="anna")
    entry["fields"]["total_amount"] = 1189.99
    [correction] = read_corrections(json.dumps(doc))
    assert correction.fields == {"total_amount": 1189.99}
    assert apply_corrections([bad], [correction])[0]["response"]["total_amount"] == 1189.99
    # Rejecting leaves the pre-filled values out.
    entry.update(decision="rejected")
    assert read_corrections(json.dumps(doc))[0].fields == {}


def test_file_errors_name_the_entry() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        read_corrections("{")
    bad = {"corrections": [{**fix_total().to_dict(), "decision": "approved"}]}
    with pytest.raises(ValueError, match=r"file:///inbox/pred-bad.pdf: .*'approved'"):
        read_corrections(json.dumps(bad))
