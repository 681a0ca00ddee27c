"""The invoice rule set: plain functions that read one extracted invoice and return its problems.

A rule takes the ``document.invoice`` response (a mapping) and returns the problems it finds, each
naming the field and what is wrong; an empty result means the rule is satisfied. The rules here
are the checks a nightly invoice job needs before booking (:data:`DEFAULT_RULES`); users add their
own as plain functions of the same shape and pick which run (``check.check_invoice``).

Any field may be missing or ``null`` and numbers may arrive as strings (``"1,234.56"``): a rule
that lacks its inputs stays silent, since "not extracted" is reported once, by
:func:`required_fields`. Nothing here imports Airflow, so a client-only script can use it too.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from functools import partial
from typing import Any

from airflow_provider_vlm.invoices._numbers import differs, is_missing, money, number
from airflow_provider_vlm.invoices.currencies import ISO_4217
from airflow_provider_vlm.invoices.problems import Problem, Rule

#: Fields without which an invoice cannot be booked.
REQUIRED_FIELDS: tuple[str, ...] = (
    "invoice_id",
    "issuer_name",
    "total_amount",
    "currency",
    "invoice_issue_date",
)

#: Amount fields that must be numbers when present.
AMOUNT_FIELDS: tuple[str, ...] = ("subtotal", "tax_amount", "total_amount")

#: Date fields of ``document.invoice`` that must parse when present (ISO 8601).
DATE_FIELDS: tuple[str, ...] = ("invoice_issue_date", "invoice_due_date", "period_start", "period_end")


def required_fields(invoice: Mapping[str, Any], *, fields: Sequence[str] = REQUIRED_FIELDS) -> list[Problem]:
    """Each required field is present and not blank."""
    return [Problem(field, f"missing {field}") for field in fields if is_missing(invoice.get(field))]


def amounts_are_numbers(
    invoice: Mapping[str, Any], *, fields: Sequence[str] = AMOUNT_FIELDS
) -> list[Problem]:
    """Amounts that were extracted are numbers (a misread ``"1.234,56"`` is reported, not guessed)."""
    problems = []
    for field in fields:
        raw = invoice.get(field)
        if number(raw) is None and not is_missing(raw):
            problems.append(Problem(field, f"{field} is not a number: {raw!r}"))
    return problems


def _item_label(position: int, item: Mapping[str, Any]) -> str:
    description = item.get("description")
    if isinstance(description, str) and description.strip():
        short = description.strip().splitlines()[0]
        short = short if len(short) <= 40 else short[:37] + "..."
        return f"item {position} ({short!r})"
    return f"item {position}"


def line_items_add_up(invoice: Mapping[str, Any], *, tolerance: float = 0.01) -> list[Problem]:
    """Each item's quantity x unit_price is its total_price, and the items sum to the subtotal.

    The per-item tolerance grows by half a cent per unit, since printed unit prices are rounded.
    Items priced with tax included (common on consumer invoices) may sum to the total instead.
    """
    items = invoice.get("items")
    if items is None:
        return []
    if not isinstance(items, list | tuple):
        return [Problem("items", f"items is not a list: {type(items).__name__}")]
    problems = []
    for position, item in enumerate(items, start=1):
        path = f"items[{position - 1}]"
        if not isinstance(item, Mapping):
            problems.append(Problem(path, f"item {position} is not an object: {item!r}"))
            continue
        quantity, unit_price = number(item.get("quantity")), number(item.get("unit_price"))
        total_price = number(item.get("total_price"))
        if quantity is None or unit_price is None or total_price is None:
            continue
        expected = quantity * unit_price
        if differs(expected, total_price, max(tolerance, 0.005 * abs(quantity))):
            problems.append(
                Problem(
                    f"{path}.total_price",
                    f"{_item_label(position, item)}: {quantity:g} x {money(unit_price)} = "
                    f"{money(expected)}, but total_price is {money(total_price)}",
                )
            )
    subtotal, total = number(invoice.get("subtotal")), number(invoice.get("total_amount"))
    line_totals = [number(item.get("total_price")) if isinstance(item, Mapping) else None for item in items]
    if subtotal is None or not line_totals or any(value is None for value in line_totals):
        return problems
    items_sum = math.fsum(value for value in line_totals if value is not None)
    tax_included = total is not None and not differs(items_sum, total, tolerance)
    if differs(items_sum, subtotal, tolerance) and not tax_included:
        problems.append(
            Problem(
                "subtotal",
                f"items sum to {money(items_sum)}, but subtotal is {money(subtotal)} "
                f"(difference {money(subtotal - items_sum)})",
            )
        )
    return problems


def subtotal_plus_tax_is_total(invoice: Mapping[str, Any], *, tolerance: float = 0.01) -> list[Problem]:
    """subtotal + tax_amount = total_amount, within ``tolerance`` (one cent: rounding is no problem)."""
    subtotal, tax = number(invoice.get("subtotal")), number(invoice.get("tax_amount"))
    total = number(invoice.get("total_amount"))
    if subtotal is None or tax is None or total is None or not differs(subtotal + tax, total, tolerance):
        return []
    return [
        Problem(
            "total_amount",
            f"subtotal + tax_amount = {money(subtotal)} + {money(tax)} = {money(subtotal + tax)}, "
            f"but total_amount is {money(total)} (difference {money(total - subtotal - tax)})",
        )
    ]


def known_currency(invoice: Mapping[str, Any], *, codes: Collection[str] = ISO_4217) -> list[Problem]:
    """The currency is an ISO 4217 code (case and spaces ignored); a symbol such as ``€`` is not."""
    raw = invoice.get("currency")
    if is_missing(raw):
        return []
    if isinstance(raw, str) and raw.strip().upper() in codes:
        return []
    return [Problem("currency", f"currency {raw!r} is not an ISO 4217 code")]


def _parses(value: str) -> bool:
    text = value.strip()
    try:
        date.fromisoformat(text)
        return True
    except ValueError:
        pass
    try:  # a timestamp is a date too; Python 3.10 reads no trailing "Z"
        datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        return True
    except ValueError:
        return False


def dates_parse(invoice: Mapping[str, Any], *, fields: Sequence[str] = DATE_FIELDS) -> list[Problem]:
    """Dates that were extracted are ISO 8601 dates (``2026-11-20``) that exist on the calendar."""
    problems = []
    for field in fields:
        raw = invoice.get(field)
        if is_missing(raw):
            continue
        if not isinstance(raw, str) or not _parses(raw):
            problems.append(Problem(field, f"{field} is not a date (YYYY-MM-DD): {raw!r}"))
    return problems


def default_rules(*, tolerance: float = 0.01) -> list[Rule]:
    """The rule set the nightly example runs, with the amount tolerance in currency units."""
    return [
        required_fields,
        amounts_are_numbers,
        partial(line_items_add_up, tolerance=tolerance),
        partial(subtotal_plus_tax_is_total, tolerance=tolerance),
        known_currency,
        dates_parse,
    ]


#: :func:`default_rules` with a one-cent tolerance.
DEFAULT_RULES: tuple[Rule, ...] = tuple(default_rules())
