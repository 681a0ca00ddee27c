"""What a reviewer sees for one flagged invoice, and the :class:`Correction` their answer makes.

The form is plain data (no Airflow import): :func:`review_form` turns one output row into a
subject, a Markdown body (file name, prediction, the reasons, every extracted field) and the
editable fields pre-filled with the extracted values; :func:`correction_from_answer` turns the
reviewer's choice and the submitted values into a :class:`Correction` holding only the fields
that changed. The Airflow side (``operators/hitl_review.py``) renders the form with the
human-in-the-loop operators; the corrections file (``corrections_template``) covers lines without
them. Both sides share these two functions, so "what changed" means the same everywhere.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_vlm.invoices.corrections import Correction
from airflow_provider_vlm.invoices.rules import AMOUNT_FIELDS

#: The reviewer keeps the invoice, with the fields as submitted (corrected or as extracted).
SAVE = "Save"
#: The reviewer rejects the invoice: it is not to be loaded.
REJECT = "Reject"
OPTIONS: tuple[str, str] = (SAVE, REJECT)
#: The free-text field every form has; it travels with the correction (and its feedback).
NOTES = "notes"
#: Fields every form offers, flagged or not: what a person checks against the paper first.
KEY_FIELDS: tuple[str, ...] = (
    "invoice_id",
    "invoice_issue_date",
    "invoice_due_date",
    "issuer_name",
    "customer_name",
    "currency",
    "subtotal",
    "tax_amount",
    "total_amount",
)


@dataclass(frozen=True)
class FormField:
    """One editable field: its extracted value, ``number`` or ``string``, and why it was flagged."""

    name: str
    value: Any
    kind: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ReviewForm:
    """Subject, Markdown body and editable fields for one flagged invoice."""

    subject: str
    body: str
    fields: tuple[FormField, ...]

    def field(self, name: str) -> FormField:
        return next(f for f in self.fields if f.name == name)


def document_name(row: Mapping[str, Any]) -> str:
    """The file name of the row's input (a path, URI or file id)."""
    text = str(row.get("input") or "?").rstrip("/")
    return text.rsplit("/", 1)[-1] or text


def needs_review(row: Mapping[str, Any]) -> bool:
    """A completed extraction with problems: there are extracted fields a person can correct.

    A failed extraction has nothing to correct (the report names it); it is not sent to review.
    """
    return row.get("status") == "completed" and bool(row.get("problems")) and bool(row.get("prediction_id"))


def _reasons(row: Mapping[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in row.get("problems") or []:
        if isinstance(problem, Mapping):
            field = str(problem.get("field") or "")
            text = f"[{problem.get('why') or 'rule'}] {problem.get('message') or problem.get('rule') or ''}"
        else:
            field, text = "", str(problem)
        found.setdefault(field, []).append(text.strip())
    return found


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _kind(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "string"
    if isinstance(value, (int, float)) or (value is None and name in AMOUNT_FIELDS):
        return "number"
    return "string"


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text.replace("|", "\\|").replace("\n", " ")


def review_form(row: Mapping[str, Any]) -> ReviewForm:
    """The form for one flagged row: key fields and every flagged top-level field that is a value.

    Flagged fields holding a list or an object (line items, addresses) are shown in the body and
    not editable: a correction changes top-level values (``Correction.fields``).
    """
    response = row.get("response") if isinstance(row.get("response"), Mapping) else {}
    assert isinstance(response, Mapping)
    reasons = _reasons(row)
    names = [n for n in KEY_FIELDS if _is_scalar(response.get(n))]
    names += [n for n in reasons if n in response and n not in names and _is_scalar(response.get(n))]
    fields = tuple(
        FormField(name, response.get(name), _kind(name, response.get(name)), tuple(reasons.get(name, ())))
        for name in names
    )
    name = document_name(row)
    lines = [
        f"**File:** `{row.get('input')}`",
        "",
        f"**Prediction:** `{row.get('prediction_id')}`",
        "",
        "**Why it needs a person:**",
        "",
        *(f"- `{field or 'invoice'}`: {text}" for field, texts in reasons.items() for text in texts),
        "",
        "**Extracted fields:**",
        "",
        "| field | value |",
        "|---|---|",
        *(
            f"| {'**' + key + '**' if key in reasons else key} | {_shown(value)} |"
            for key, value in response.items()
            if not key.endswith("_metadata")
        ),
        "",
        f"Correct the fields below (pre-filled with what was extracted) and choose **{SAVE}**, "
        f"or choose **{REJECT}** to keep the invoice out of the night's load. Notes travel with "
        "the correction to VLM Run.",
    ]
    count = sum(len(t) for t in reasons.values())
    subject = f"Review invoice {name}: {count} problem{'s' if count != 1 else ''}"
    return ReviewForm(subject=subject, body="\n".join(lines), fields=fields)


def _normalized(kind: str, value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
        if kind == "number":
            try:
                value = float(value.replace(",", ""))
            except ValueError:
                return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        return round(number, 9) if math.isfinite(number) else number
    return value


def _submitted(field: FormField, value: Any) -> Any:
    """A submitted value as the record keeps it: numbers as numbers, blanks as ``None``."""
    normalized = _normalized(field.kind, value)
    if field.kind == "number" and isinstance(normalized, float) and normalized.is_integer():
        return int(normalized) if isinstance(value, int) else normalized
    return normalized


def correction_from_answer(
    row: Mapping[str, Any],
    form: ReviewForm,
    chosen: Sequence[str],
    values: Mapping[str, Any],
    *,
    reviewer: str | None,
    reviewed_at: str | None,
) -> Correction:
    """The reviewer's answer as a :class:`Correction`: only the fields whose value changed.

    ``chosen`` holds the option picked (:data:`SAVE` or :data:`REJECT`); ``values`` the submitted
    fields (missing ones keep their extracted value) and :data:`NOTES`. Saved with no change is
    ``accepted``; a change is ``corrected``; a reject carries no fields.
    """
    notes = values.get(NOTES)
    notes = str(notes).strip() or None if notes is not None else None

    def made(decision: str, fields: dict[str, Any]) -> Correction:
        return Correction(
            input=str(row.get("input")),
            prediction_id=str(row.get("prediction_id")),
            decision=decision,
            fields=fields,
            reviewer=reviewer,
            notes=notes,
            reviewed_at=reviewed_at,
        )

    if REJECT in chosen:
        return made("rejected", {})
    if SAVE not in chosen:
        raise ValueError(f"the reviewer's answer {list(chosen)!r} is neither {SAVE!r} nor {REJECT!r}")
    changed: dict[str, Any] = {}
    for field in form.fields:
        if field.name not in values:
            continue
        new = values[field.name]
        if _normalized(field.kind, new) != _normalized(field.kind, field.value):
            changed[field.name] = _submitted(field, new)
    return made("corrected" if changed else "accepted", changed)
