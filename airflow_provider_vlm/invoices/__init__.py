"""Invoice rules: the checks an extracted ``document.invoice`` must pass before it is booked.

A rule is a plain function: one invoice (the response mapping) in, a list of :class:`Problem`
out, each naming the field and what is wrong. :data:`DEFAULT_RULES` holds the provider's rules
(required fields, amounts that are numbers, line items adding up, subtotal + tax = total within a
cent, an ISO 4217 currency, dates that parse); :func:`check_invoice` runs the rules you pick,
yours included, and with ``min_confidence`` routes a field the model was unsure of the same way
as a failed rule. :mod:`~airflow_provider_vlm.invoices.report` turns a night's rows into a
per-issuer summary and a plain-text table; :mod:`~airflow_provider_vlm.invoices.corrections` holds
a reviewer's decisions and applies them to the night's rows. Nothing here imports Airflow. See
``docs/invoice-rules.md``.
"""

from __future__ import annotations

from airflow_provider_vlm.invoices.check import check_invoice
from airflow_provider_vlm.invoices.confidence import confidence_at_least, field_confidence
from airflow_provider_vlm.invoices.corrections import (
    DECISIONS,
    Correction,
    apply_corrections,
    corrections_template,
    read_corrections,
    write_corrections,
)
from airflow_provider_vlm.invoices.currencies import ISO_4217
from airflow_provider_vlm.invoices.problems import WHOLE_INVOICE, Problem, Rule
from airflow_provider_vlm.invoices.report import (
    UNKNOWN_ISSUER,
    format_summary_table,
    is_flagged,
    summarize_by_issuer,
)
from airflow_provider_vlm.invoices.rules import (
    AMOUNT_FIELDS,
    DATE_FIELDS,
    DEFAULT_RULES,
    REQUIRED_FIELDS,
    amounts_are_numbers,
    dates_parse,
    default_rules,
    known_currency,
    line_items_add_up,
    required_fields,
    subtotal_plus_tax_is_total,
)

__all__ = [
    "AMOUNT_FIELDS",
    "DATE_FIELDS",
    "DECISIONS",
    "DEFAULT_RULES",
    "ISO_4217",
    "REQUIRED_FIELDS",
    "UNKNOWN_ISSUER",
    "WHOLE_INVOICE",
    "Correction",
    "Problem",
    "Rule",
    "amounts_are_numbers",
    "apply_corrections",
    "check_invoice",
    "confidence_at_least",
    "corrections_template",
    "dates_parse",
    "default_rules",
    "field_confidence",
    "format_summary_table",
    "is_flagged",
    "known_currency",
    "line_items_add_up",
    "read_corrections",
    "required_fields",
    "subtotal_plus_tax_is_total",
    "summarize_by_issuer",
    "write_corrections",
]
