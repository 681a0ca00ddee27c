"""The confidence floor: a required field the model was unsure of is a problem, like a failed rule.

With ``confidence=True`` in the generation config, the platform gives each extracted field ``X`` a
sibling ``X_metadata`` holding ``confidence`` (0 to 1) and, with ``grounding=True``, a ``bbox``:
``{"invoice_id": "471102", "invoice_id_metadata": {"confidence": 0.97, "bbox": {"xywh": [...]}}}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_vlm.invoices._numbers import is_missing, number
from airflow_provider_vlm.invoices.problems import Problem, Rule
from airflow_provider_vlm.invoices.rules import REQUIRED_FIELDS

#: Suffix of the sibling key that carries a field's confidence and box.
METADATA_SUFFIX = "_metadata"


def field_confidence(invoice: Mapping[str, Any], field: str) -> float | None:
    """The confidence the response reports for ``field``, or None when it reports none."""
    metadata = invoice.get(field + METADATA_SUFFIX)
    if not isinstance(metadata, Mapping):
        return None
    return number(metadata.get("confidence"))


def confidence_at_least(min_confidence: float, fields: Sequence[str] = REQUIRED_FIELDS) -> Rule:
    """A rule: each of ``fields`` that was extracted has a confidence of at least ``min_confidence``.

    A field that was extracted but carries no confidence is a problem too: the floor was asked
    for, so a response made without ``confidence=True`` must not pass it silently. A field that
    was not extracted is left to ``required_fields``.
    """
    if isinstance(min_confidence, bool) or not 0.0 <= float(min_confidence) <= 1.0:
        raise ValueError(f"min_confidence must be between 0 and 1, got {min_confidence!r}")
    floor = float(min_confidence)
    chosen = tuple(fields)

    def low_confidence(invoice: Mapping[str, Any]) -> list[Problem]:
        problems = []
        for field in chosen:
            if is_missing(invoice.get(field)):
                continue
            confidence = field_confidence(invoice, field)
            if confidence is None:
                problems.append(
                    Problem(field, f"{field} has no confidence (request the prediction with confidence=True)")
                )
            elif confidence < floor:
                problems.append(
                    Problem(field, f"{field} confidence {confidence:.2f} is below min_confidence {floor:.2f}")
                )
        return problems

    return low_confidence
