"""The night's report: per-issuer totals and a plain-text table of them and of the flagged invoices.

Rows are the output lines of a nightly invoice job, one per document: ``{"input", "status",
"response", "usage", "problems"}`` (``problems`` as ``Problem.to_dict()`` or plain strings). The
table has fixed-width columns sized to the content, so it reads the same in a task log, a file and
a terminal. No Airflow import: a client-only script can build the same report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_vlm.invoices._numbers import money, number

#: Summary key for rows whose result names no issuer (failed extraction, unreadable document).
UNKNOWN_ISSUER = "(unknown issuer)"


def is_flagged(row: Mapping[str, Any]) -> bool:
    """The row needs a person: its extraction did not complete, or its invoice has problems."""
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
        group["invalid"] += int(is_flagged(row))
        total = number(response.get("total_amount"))
        if total is not None:
            currency = response.get("currency")
            key = currency.strip().upper() if isinstance(currency, str) and currency.strip() else "?"
            group["totals"][key] = group["totals"].get(key, 0.0) + total
        usage = row.get("usage")
        credits = number(usage.get("credits_used")) if isinstance(usage, Mapping) else None
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


def _problem_text(problem: Any) -> str:
    """A problem as stored in an output row (``Problem.to_dict()``) or as a plain string."""
    if isinstance(problem, Mapping):
        return str(problem.get("message") or problem.get("field") or problem)
    return str(problem)


def _row_reason(row: Mapping[str, Any]) -> str:
    problems = row.get("problems") or []
    if problems:
        return "; ".join(_problem_text(problem) for problem in problems)
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
    """Plain-text report of a night: one line per issuer and currency, then the failures.

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
                    money(amount) if currency else "-",
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
            money(amount) if currency else "-",
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
