"""``check_invoice``: run the chosen rules (and the confidence floor) over one extracted invoice."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_vlm.invoices.confidence import confidence_at_least
from airflow_provider_vlm.invoices.problems import WHOLE_INVOICE, Problem, Rule, as_problem
from airflow_provider_vlm.invoices.rules import DEFAULT_RULES, REQUIRED_FIELDS


def check_invoice(
    invoice: Mapping[str, Any] | None,
    rules: Iterable[Rule] = DEFAULT_RULES,
    *,
    min_confidence: float | None = None,
    confidence_fields: Sequence[str] = REQUIRED_FIELDS,
) -> list[Problem]:
    """Every problem the ``rules`` find with one extracted invoice; an empty list means it checks out.

    ``min_confidence`` (0 to 1) adds :func:`confidence_at_least`
    for ``confidence_fields``: a field the model was unsure of is a problem like a failed rule, so
    the same step routes both to review. It needs a response made with ``confidence=True``.
    """
    if invoice is None:
        return [Problem(WHOLE_INVOICE, "no result: the extraction returned nothing", "check_invoice")]
    if not isinstance(invoice, Mapping):
        return [Problem(WHOLE_INVOICE, f"result is not an object: {type(invoice).__name__}", "check_invoice")]
    chosen = list(rules)
    if min_confidence is not None:
        chosen.append(confidence_at_least(min_confidence, fields=confidence_fields))
    return [as_problem(found, rule) for rule in chosen for found in rule(invoice)]
