"""Checks and summaries for extracted ``document.invoice`` results.

The nightly example DAG extracts invoices, then must say which ones cannot be trusted without
failing the run: a model can misread a digit, and a supplier can send an invoice that does not
add up. These functions are pure (no Airflow, no I/O) so the DAG, the demo command and the tests
share them.

- :func:`validate_invoice` lists human-readable problems with one result (empty list: fine).
- :func:`summarize_by_issuer` aggregates per issuer: count, totals per currency, credits, invalid.
- :func:`format_summary_table` renders that summary and the failed documents as plain text.

Results follow the ``document.invoice`` schema, but any field may be missing or ``null``, and
numbers may arrive as strings such as ``"1,234.56"``; a check that lacks its inputs is skipped
rather than reported, since "not extracted" is reported once, by the required-field check.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

__all__ = [
    "REQUIRED_FIELDS",
    "UNKNOWN_ISSUER",
    "format_summary_table",
    "summarize_by_issuer",
    "validate_invoice",
]

#: Fields without which an invoice cannot be booked.
REQUIRED_FIELDS: tuple[str, ...] = (
    "invoice_id",
    "issuer_name",
    "total_amount",
    "currency",
    "invoice_issue_date",
)

#: Summary key for rows whose result names no issuer (failed extraction, unreadable document).
UNKNOWN_ISSUER = "(unknown issuer)"

# Plain or comma-grouped decimals: "1234.5", "1,234.56", "-12".
_NUMBER = re.compile(r"-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")

# Float sums such as 0.1 + 0.2 must not trip a one-cent tolerance.
_EPSILON = 1e-9


def _number(value: Any) -> float | None:
    """A finite number from a result field, or None when absent or unreadable.

    Accepts ints, floats, Decimals and strings like ``"1,234.56"`` or ``"EUR 12.50"``; rejects
    booleans (``True`` is an int in Python, but never an amount) and ambiguous strings.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        number = float(value)
    elif isinstance(value, str):
        cleaned = "".join(ch for ch in value if ch.isdigit() or ch in ",.-")
        if not _NUMBER.fullmatch(cleaned):
            return None  # "1.234,56" and friends: reported as unreadable, never misread
        number = float(Decimal(cleaned.replace(",", "")))
    else:
        return None
    return number if math.isfinite(number) else None


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _differs(left: float, right: float, tolerance: float) -> bool:
    return abs(left - right) > tolerance + _EPSILON


def _item_label(position: int, item: Mapping[str, Any]) -> str:
    description = item.get("description")
    if isinstance(description, str) and description.strip():
        short = description.strip().splitlines()[0]
        short = short if len(short) <= 40 else short[:37] + "..."
        return f"item {position} ({short!r})"
    return f"item {position}"


def _item_problems(items: Sequence[Any], tolerance: float) -> list[str]:
    problems = []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            problems.append(f"item {position} is not an object: {item!r}")
            continue
        quantity = _number(item.get("quantity"))
        unit_price = _number(item.get("unit_price"))
        total_price = _number(item.get("total_price"))
        if quantity is None or unit_price is None or total_price is None:
            continue
        expected = quantity * unit_price
        if _differs(expected, total_price, max(tolerance, 0.005 * abs(quantity))):
            problems.append(
                f"{_item_label(position, item)}: {quantity:g} x {_money(unit_price)} = "
                f"{_money(expected)}, but total_price is {_money(total_price)}"
            )
    return problems


def validate_invoice(result: Mapping[str, Any] | None, tolerance: float = 0.01) -> list[str]:
    """Problems that make an extracted invoice untrustworthy; an empty list means it checks out.

    Checks, each only when its inputs were extracted:

    - required fields (:data:`REQUIRED_FIELDS`) are present and not blank;
    - amounts that are present are numbers;
    - each item's quantity x unit_price matches its total_price (the tolerance grows by half a
      cent per unit, since printed unit prices are rounded);
    - the item total_prices sum to the subtotal, or to the total when the lines are priced
      with tax included (common on consumer invoices);
    - subtotal + tax_amount equals total_amount.

    ``tolerance`` is absolute, in currency units: one cent by default, so rounding on the
    document does not count as a problem.
    """
    if result is None:
        return ["no result: the extraction returned nothing"]
    if not isinstance(result, Mapping):
        return [f"result is not an object: {type(result).__name__}"]
    problems = [f"missing {field}" for field in REQUIRED_FIELDS if _is_missing(result.get(field))]

    amounts: dict[str, float | None] = {}
    for field in ("subtotal", "tax_amount", "total_amount"):
        raw = result.get(field)
        amounts[field] = _number(raw)
        if amounts[field] is None and not _is_missing(raw):
            problems.append(f"{field} is not a number: {raw!r}")
    subtotal, tax, total = amounts["subtotal"], amounts["tax_amount"], amounts["total_amount"]

    items = result.get("items")
    if items is not None and not isinstance(items, list | tuple):
        problems.append(f"items is not a list: {type(items).__name__}")
    elif items:
        problems.extend(_item_problems(items, tolerance))
        line_totals = [
            _number(item.get("total_price")) if isinstance(item, Mapping) else None for item in items
        ]
        if subtotal is not None and line_totals and all(value is not None for value in line_totals):
            items_sum = math.fsum(value for value in line_totals if value is not None)
            tax_included = total is not None and not _differs(items_sum, total, tolerance)
            if _differs(items_sum, subtotal, tolerance) and not tax_included:
                problems.append(
                    f"items sum to {_money(items_sum)}, but subtotal is {_money(subtotal)} "
                    f"(difference {_money(subtotal - items_sum)})"
                )

    if (
        subtotal is not None
        and tax is not None
        and total is not None
        and _differs(subtotal + tax, total, tolerance)
    ):
        problems.append(
            f"subtotal + tax_amount = {_money(subtotal)} + {_money(tax)} = {_money(subtotal + tax)}, "
            f"but total_amount is {_money(total)} (difference {_money(total - subtotal - tax)})"
        )
    return problems


def _row_is_invalid(row: Mapping[str, Any]) -> bool:
    return row.get("status") != "completed" or bool(row.get("problems")) or row.get("response") is None


def summarize_by_issuer(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per-issuer totals for the nightly report, sorted by issuer name (unknown issuer last).

    Each row is one document: ``{"input", "status", "response", "usage", "problems"}``. Every
    row counts, so the counts add up to the documents processed; a row is ``invalid`` when its
    extraction did not complete or its result has problems. Totals are per currency (adding
    euros to pounds means nothing) and include invalid invoices' amounts as extracted, since
    they were still billed to you; unknown currencies are keyed ``"?"``. Credits add up
    ``usage.credits_used`` where the server reported it.

    Returns dicts ``{"issuer", "count", "invalid", "totals": {currency: amount}, "credits_used"}``.
    """
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        response = row.get("response")
        response = response if isinstance(response, Mapping) else {}
        name = response.get("issuer_name")
        issuer = name.strip() if isinstance(name, str) and name.strip() else UNKNOWN_ISSUER
        group = groups.setdefault(
            issuer, {"issuer": issuer, "count": 0, "invalid": 0, "totals": {}, "credits_used": 0.0}
        )
        group["count"] += 1
        group["invalid"] += int(_row_is_invalid(row))
        total = _number(response.get("total_amount"))
        if total is not None:
            currency = response.get("currency")
            key = currency.strip().upper() if isinstance(currency, str) and currency.strip() else "?"
            group["totals"][key] = group["totals"].get(key, 0.0) + total
        usage = row.get("usage")
        credits = _number(usage.get("credits_used")) if isinstance(usage, Mapping) else None
        if credits is not None:
            group["credits_used"] += credits

    summary = sorted(groups.values(), key=lambda g: (g["issuer"] == UNKNOWN_ISSUER, g["issuer"].casefold()))
    for group in summary:
        group["totals"] = {currency: round(amount, 2) for currency, amount in sorted(group["totals"].items())}
        group["credits_used"] = round(group["credits_used"], 4)
    return summary


def _document_name(row: Mapping[str, Any]) -> str:
    """The last segment of the input (a path, URI or file id): enough to find the document."""
    text = str(row.get("input") or "?").rstrip("/")
    return text.rsplit("/", 1)[-1] or text


def _row_reason(row: Mapping[str, Any]) -> str:
    problems = row.get("problems") or []
    if problems:
        return "; ".join(str(problem) for problem in problems)
    status = row.get("status")
    if status != "completed":
        message = row.get("error") or row.get("message")
        return f"extraction {status or 'did not finish'}" + (f": {message}" if message else "")
    return "no result"


def _render_rows(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(line[col]) for line in [header, *rows]) for col in range(len(header))]

    def render(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if col in right else cell.ljust(width)
            for col, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return [render(header), rule, *(render(row) for row in rows)]


def format_summary_table(
    summary: Sequence[Mapping[str, Any]], failed_rows: Iterable[Mapping[str, Any]]
) -> str:
    """Plain-text report the demo prints: one line per issuer and currency, then the failures.

    Fixed-width columns sized to the content, so it reads the same in a terminal, a task log
    and the README. An issuer billing in two currencies takes two lines (the second without
    repeating counts); a final ``All`` block totals every column.
    """
    header = ("Issuer", "Invoices", "Invalid", "Currency", "Total amount", "Credits")
    lines: list[list[str]] = []
    all_totals: dict[str, float] = {}
    all_count = all_invalid = 0
    all_credits = 0.0
    for group in summary:
        totals: Mapping[str, float] = group.get("totals") or {}
        currencies = list(totals.items()) or [("", 0.0)]
        for position, (currency, amount) in enumerate(currencies):
            first = position == 0
            lines.append(
                [
                    str(group.get("issuer", UNKNOWN_ISSUER)) if first else "",
                    str(group.get("count", 0)) if first else "",
                    str(group.get("invalid", 0)) if first else "",
                    currency,
                    _money(amount) if currency else "-",
                    f"{group.get('credits_used', 0.0):,.2f}" if first else "",
                ]
            )
            if currency:
                all_totals[currency] = all_totals.get(currency, 0.0) + amount
        all_count += int(group.get("count", 0))
        all_invalid += int(group.get("invalid", 0))
        all_credits += float(group.get("credits_used", 0.0))

    grand = sorted(all_totals.items()) or [("", 0.0)]
    footer = [
        [
            "All" if position == 0 else "",
            str(all_count) if position == 0 else "",
            str(all_invalid) if position == 0 else "",
            currency,
            _money(amount) if currency else "-",
            f"{all_credits:,.2f}" if position == 0 else "",
        ]
        for position, (currency, amount) in enumerate(grand)
    ]
    table = _render_rows(header, [*lines, *footer], right={1, 2, 4, 5})
    rule = table[1]
    body = [*table[: 2 + len(lines)], rule, *table[2 + len(lines) :]]

    failed = list(failed_rows)
    if not failed:
        body += ["", "All documents passed validation." if all_count else "No documents were processed."]
        return "\n".join(body)
    body += ["", f"Failed validation or extraction ({len(failed)}):"]
    names = [_document_name(row) for row in failed]
    width = max(len(name) for name in names)
    for name, row in zip(names, failed, strict=True):
        body.append(f"  {name.ljust(width)}  {_row_reason(row)}")
    return "\n".join(body)
