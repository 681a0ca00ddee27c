"""Corrections: what a reviewer decided about a flagged invoice, applied to the night's rows.

A :class:`Correction` is one reviewer's decision on one prediction: ``corrected`` (with the
changed top-level fields), ``accepted`` (reviewed, no change) or ``rejected`` (not to be loaded).
:func:`apply_corrections` folds decisions into the night's output rows and records who changed
what; :func:`corrections_template` / :func:`read_corrections` / :func:`write_corrections` are the
corrections file a person fills in where the Airflow line has no human-in-the-loop operators.
:attr:`Correction.key` is the one identity of "the same correction" (the feedback step sends one
feedback per key). No Airflow import. See ``docs/invoice-rules.md`` and ``docs/feedback.md``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_vlm.invoices.check import check_invoice
from airflow_provider_vlm.invoices.problems import Rule
from airflow_provider_vlm.invoices.rules import DEFAULT_RULES

#: The decisions a reviewer can make; only ``corrected`` carries fields.
DECISIONS = ("corrected", "accepted", "rejected")
#: Decision of a template entry nobody has decided yet; :func:`read_corrections` skips it.
PENDING = "pending"
#: ``format`` of the corrections file, so a later layout can be told apart.
CORRECTIONS_FORMAT = "vlm-invoice-corrections/1"

_KEYS = ("input", "prediction_id", "decision", "fields", "reviewer", "notes", "reviewed_at")
#: Keys a template entry carries for the person editing it; read back, they are not part of a correction.
_TEMPLATE_KEYS = ("extracted", "reasons")
_TOP_FIELD = re.compile(r"^[^.\[]+")


def _optional_str(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"correction {name} must be a string or null, not {value!r}")


@dataclass(frozen=True)
class Correction:
    """One reviewer's decision on one prediction (a row of the night, by its ``prediction_id``).

    ``fields`` maps top-level ``document.invoice`` fields to corrected values, only the changed
    ones, and is empty unless ``decision == "corrected"``. Invalid values raise ``ValueError``
    naming the bad key, so a hand-edited file fails before anything is applied or sent.
    """

    input: str
    prediction_id: str
    decision: str
    fields: dict[str, Any]
    reviewer: str | None
    notes: str | None = None
    reviewed_at: str | None = None

    def __post_init__(self) -> None:
        for name in ("input", "prediction_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"correction {name} must be a non-empty string, not {value!r}")
        if self.decision not in DECISIONS:
            raise ValueError(
                f"correction decision {self.decision!r} (prediction {self.prediction_id}) is not one of "
                f"{', '.join(DECISIONS)}"
            )
        if not isinstance(self.fields, dict) or not all(isinstance(k, str) and k for k in self.fields):
            raise ValueError(
                f"correction fields (prediction {self.prediction_id}) must map field names to values, "
                f"not {self.fields!r}"
            )
        if self.decision == "corrected" and not self.fields:
            raise ValueError(
                f"correction of prediction {self.prediction_id} is 'corrected' but changes no field; "
                "use 'accepted' for an invoice that is right as extracted"
            )
        if self.decision != "corrected" and self.fields:
            raise ValueError(
                f"correction of prediction {self.prediction_id} is {self.decision!r} but has fields "
                f"{sorted(self.fields)}; only 'corrected' changes fields"
            )
        for name in ("reviewer", "notes", "reviewed_at"):
            _optional_str(name, getattr(self, name))
        try:
            json.dumps(self.fields, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"correction fields of prediction {self.prediction_id} are not JSON: {exc}"
            ) from None

    @property
    def key(self) -> str:
        """Short stable hash of what was decided (prediction, decision, fields, notes).

        Who decided and when are left out: the same decision recorded twice (a retried review
        step, a re-read file) is the same correction and is sent to the platform once.
        """
        canonical = json.dumps(
            {
                "prediction_id": self.prediction_id,
                "decision": self.decision,
                "fields": self.fields,
                "notes": self.notes,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (XCom, the corrections file); :meth:`from_dict` reads it back."""
        return {
            "input": self.input,
            "prediction_id": self.prediction_id,
            "decision": self.decision,
            "fields": dict(self.fields),
            "reviewer": self.reviewer,
            "notes": self.notes,
            "reviewed_at": self.reviewed_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Correction:
        """A correction from :meth:`to_dict`'s form; an unknown or missing key raises ``ValueError``."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a correction is an object with keys {', '.join(_KEYS)}, not {data!r}")
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise ValueError(
                f"correction has unknown key(s) {', '.join(map(str, unknown))}; expected {', '.join(_KEYS)}"
            )
        missing = [k for k in ("input", "prediction_id", "decision") if k not in data]
        if missing:
            raise ValueError(f"correction lacks {', '.join(missing)}: {dict(data)!r}")
        fields = data.get("fields") or {}
        if not isinstance(fields, Mapping):
            raise ValueError(f"correction fields must be an object, not {fields!r}")
        return cls(
            input=data["input"],
            prediction_id=data["prediction_id"],
            decision=data["decision"],
            fields=dict(fields),
            reviewer=data.get("reviewer"),
            notes=data.get("notes"),
            reviewed_at=data.get("reviewed_at"),
        )


def _by_prediction(corrections: Iterable[Correction]) -> dict[str, Correction]:
    """One correction per prediction; the same one twice is fine, two different ones are ambiguous."""
    found: dict[str, Correction] = {}
    for correction in corrections:
        earlier = found.get(correction.prediction_id)
        if earlier is not None and earlier.key != correction.key:
            raise ValueError(
                f"two different corrections for prediction {correction.prediction_id} "
                f"({correction.input}): {earlier.decision} and {correction.decision}; keep one"
            )
        found[correction.prediction_id] = correction
    return found


def _rule_problems(response: Any, rules: Iterable[Rule]) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    problems = [{**problem.to_dict(), "why": "rule"} for problem in check_invoice(response, rules)]
    review_fields: dict[str, list[str]] = {}
    for problem in problems:
        review_fields.setdefault(problem["field"], ["rule"])
    return problems, review_fields


def apply_corrections(
    rows: Iterable[Mapping[str, Any]],
    corrections: Iterable[Correction],
    *,
    rules: Sequence[Rule] = DEFAULT_RULES,
) -> list[dict[str, Any]]:
    """The night's rows with the reviewers' decisions applied; the input rows are not changed.

    A reviewed row gets ``review = {"decision", "reviewer", "reviewed_at", "notes", "changes"}``,
    ``changes`` listing ``{"field", "from", "to"}`` for each value a person changed (who changed
    what). A corrected row's ``response`` takes the new values and its ``problems`` /
    ``review_fields`` are re-checked with ``rules`` (rules only: a value a person typed has no
    model confidence). Accepted and rejected rows keep their response and problems. A correction
    for a prediction none of the rows holds raises ``ValueError`` naming it.
    """
    wanted = _by_prediction(corrections)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in rows:
        new = dict(row)
        correction = wanted.get(str(row.get("prediction_id")))
        if correction is not None:
            seen.add(correction.prediction_id)
            changes: list[dict[str, Any]] = []
            if correction.decision == "corrected":
                old = row.get("response")
                response = dict(old) if isinstance(old, Mapping) else {}
                for field, value in correction.fields.items():
                    if response.get(field) != value or field not in response:
                        changes.append({"field": field, "from": response.get(field), "to": value})
                    response[field] = value
                new["response"] = response
                new["problems"], new["review_fields"] = _rule_problems(response, rules)
            new["review"] = {
                "decision": correction.decision,
                "reviewer": correction.reviewer,
                "reviewed_at": correction.reviewed_at,
                "notes": correction.notes,
                "changes": changes,
            }
        out.append(new)
    unknown = sorted(set(wanted) - seen)
    if unknown:
        raise ValueError(
            "corrections name prediction(s) not in the night's rows: "
            + ", ".join(f"{pid} ({wanted[pid].input})" for pid in unknown)
        )
    return out


def write_corrections(corrections: Iterable[Correction]) -> str:
    """The corrections file (JSON) holding ``corrections``; :func:`read_corrections` reads it."""
    entries = [c.to_dict() for c in corrections]
    return (
        json.dumps({"format": CORRECTIONS_FORMAT, "corrections": entries}, indent=2, ensure_ascii=False)
        + "\n"
    )


def _entry_correction(index: int, entry: Any) -> Correction | None:
    if not isinstance(entry, Mapping):
        raise ValueError(f"corrections file: entry {index} is not an object: {entry!r}")
    if entry.get("decision") == PENDING:
        return None
    data = {k: v for k, v in entry.items() if k not in _TEMPLATE_KEYS}
    extracted = entry.get("extracted")
    if (
        data.get("decision") == "corrected"
        and isinstance(extracted, Mapping)
        and isinstance(data.get("fields"), Mapping)
    ):
        # A template pre-fills the flagged fields with what was extracted; untouched ones are no change.
        data["fields"] = {k: v for k, v in data["fields"].items() if k not in extracted or extracted[k] != v}
    elif data.get("decision") in ("accepted", "rejected") and isinstance(extracted, Mapping):
        data["fields"] = {}
    try:
        return Correction.from_dict(data)
    except ValueError as exc:
        where = entry.get("input") or entry.get("prediction_id") or f"entry {index}"
        raise ValueError(f"corrections file, {where}: {exc}") from None


def read_corrections(text: str) -> list[Correction]:
    """The decided corrections in a corrections file; entries still ``"pending"`` are skipped.

    Accepts :func:`write_corrections`' form and a filled-in :func:`corrections_template` (whose
    ``extracted`` / ``reasons`` are ignored, and whose pre-filled field values left unchanged are
    not corrections). A bare JSON list of corrections is read too. Errors name the entry.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"corrections file is not JSON: {exc}") from None
    if isinstance(doc, Mapping):
        fmt = doc.get("format", CORRECTIONS_FORMAT)
        if fmt != CORRECTIONS_FORMAT:
            raise ValueError(f"corrections file format {fmt!r} is not {CORRECTIONS_FORMAT!r}")
        entries = doc.get("corrections")
    else:
        entries = doc
    if not isinstance(entries, list):
        raise ValueError('corrections file: expected {"corrections": [...]} or a list of corrections')
    found = [_entry_correction(i, entry) for i, entry in enumerate(entries)]
    return [c for c in found if c is not None]


def _reasons(row: Mapping[str, Any]) -> dict[str, list[str]]:
    """Flagged field -> the sentences why, from the row's problems (dicts or plain strings)."""
    reasons: dict[str, list[str]] = {}
    if row.get("status") != "completed":
        reasons["(invoice)"] = [f"extraction {row.get('status') or 'did not complete'}"]
    for problem in row.get("problems") or []:
        if isinstance(problem, Mapping):
            why = f"[{problem['why']}] " if problem.get("why") else ""
            reasons.setdefault(str(problem.get("field", "(invoice)")), []).append(
                f"{why}{problem.get('message', '')}"
            )
        else:
            reasons.setdefault("(invoice)", []).append(str(problem))
    for field, whys in (row.get("review_fields") or {}).items():
        reasons.setdefault(str(field), [f"[{why}]" for why in whys])
    return reasons


def corrections_template(flagged_rows: Iterable[Mapping[str, Any]]) -> str:
    """A corrections file with one ``"pending"`` entry per flagged row, for a person to edit.

    Each entry names the file and prediction, pre-fills ``fields`` with the extracted values of
    the flagged top-level fields (a problem on ``items[1].total_price`` pre-fills ``items``), and
    lists ``extracted`` and ``reasons`` beside them. The person sets ``decision`` (and
    ``reviewer``, ``notes``) and edits the values; :func:`read_corrections` keeps only what changed.
    Rows without a ``prediction_id`` cannot be corrected on the platform and are left out.
    """
    entries: list[dict[str, Any]] = []
    for row in flagged_rows:
        prediction_id = row.get("prediction_id")
        if not prediction_id:
            continue
        response = row.get("response")
        response = response if isinstance(response, Mapping) else {}
        reasons = _reasons(row)
        extracted: dict[str, Any] = {}
        for path in reasons:
            top = _TOP_FIELD.match(path)
            if top and top.group(0) != "(invoice)":
                extracted[top.group(0)] = response.get(top.group(0))
        entries.append(
            {
                "input": row.get("input"),
                "prediction_id": prediction_id,
                "decision": PENDING,
                "fields": dict(extracted),
                "reviewer": None,
                "notes": None,
                "reviewed_at": None,
                "extracted": extracted,
                "reasons": reasons,
            }
        )
    doc = {
        "format": CORRECTIONS_FORMAT,
        "instructions": (
            "For each entry set decision to corrected (edit the values in fields), accepted (right as "
            "extracted) or rejected (not to be loaded); fill in reviewer and notes. Entries left "
            "pending are not applied."
        ),
        "corrections": entries,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"
