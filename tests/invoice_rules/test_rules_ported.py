"""The provider's invoice rules and report on the cases the nightly example has always checked.

The messages are the ones the example printed before the rules moved into the provider: a
report a team reads every morning keeps its wording.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_vlm.invoices import (
    REQUIRED_FIELDS,
    UNKNOWN_ISSUER,
    check_invoice,
    default_rules,
    format_summary_table,
    summarize_by_issuer,
)
from tests.invoices import REAL_INVOICES, needs_real_invoices


def validate_invoice(result: Any, tolerance: float = 0.01) -> list[str]:
    """The problems' sentences, as the report prints them."""
    return [str(problem) for problem in check_invoice(result, default_rules(tolerance=tolerance))]


def good_invoice(**overrides: Any) -> dict[str, Any]:
    invoice: dict[str, Any] = {
        "invoice_id": "NLS-2026-00042",
        "invoice_issue_date": "2026-01-12",
        "invoice_due_date": "2026-02-11",
        "issuer_name": "Nordlicht Software GmbH",
        "issuer_address": "Gneisenaustrasse 41, 10961 Berlin, DE",
        "customer_name": "Halvorsen Marine AS",
        "currency": "EUR",
        "items": [
            {"description": "Consulting", "quantity": 7.5, "unit_price": 120.0, "total_price": 900.0},
            {"description": "Licence", "quantity": 3, "unit_price": 33.33, "total_price": 99.99},
        ],
        "subtotal": 999.99,
        "tax_amount": 190.0,
        "total_amount": 1189.99,
    }
    invoice.update(overrides)
    return invoice


def test_good_invoice_has_no_problems() -> None:
    assert validate_invoice(good_invoice()) == []


def test_none_or_non_object_result() -> None:
    assert validate_invoice(None) == ["no result: the extraction returned nothing"]
    assert validate_invoice(["not", "a", "dict"]) == ["result is not an object: list"]  # type: ignore[arg-type]


@pytest.mark.parametrize("field", REQUIRED_FIELDS)
@pytest.mark.parametrize("value", [None, "", "   ", "missing"])
def test_required_fields(field: str, value: Any) -> None:
    invoice = good_invoice()
    if value == "missing":
        del invoice[field]
    else:
        invoice[field] = value
    assert f"missing {field}" in validate_invoice(invoice)


def test_total_mismatch() -> None:
    problems = validate_invoice(good_invoice(total_amount=1209.99))
    assert problems == [
        "subtotal + tax_amount = 999.99 + 190.00 = 1,189.99, but total_amount is 1,209.99 (difference 20.00)"
    ]


def test_subtotal_mismatch() -> None:
    problems = validate_invoice(good_invoice(subtotal=900.0, tax_amount=171.0, total_amount=1071.0))
    assert problems == ["items sum to 999.99, but subtotal is 900.00 (difference -99.99)"]


def test_line_total_mismatch_names_the_item() -> None:
    items = good_invoice()["items"]
    items[1] = {**items[1], "total_price": 109.99}
    problems = validate_invoice(good_invoice(items=items, subtotal=1009.99, total_amount=1199.99))
    assert problems == ["item 2 ('Licence'): 3 x 33.33 = 99.99, but total_price is 109.99"]


def test_tolerance() -> None:
    # One cent off is rounding, two cents is a problem; the tolerance is configurable.
    assert validate_invoice(good_invoice(total_amount=1190.00)) == []
    assert len(validate_invoice(good_invoice(total_amount=1190.01))) == 1
    assert validate_invoice(good_invoice(total_amount=1190.01), tolerance=0.05) == []
    assert len(validate_invoice(good_invoice(total_amount=1189.99 + 0.5), tolerance=0.05)) == 1


def test_rounded_unit_prices_are_tolerated_per_unit() -> None:
    # 12 x 0.33 printed for a line billed at 12 x 1/3 = 4.00.
    item = {"description": "Pick and pack", "quantity": 12, "unit_price": 0.33, "total_price": 4.0}
    invoice = good_invoice(items=[item], subtotal=4.0, tax_amount=0.84, total_amount=4.84)
    assert validate_invoice(invoice) == []


def test_tax_inclusive_line_prices_are_accepted() -> None:
    items = [{"description": "Tablet", "quantity": 1, "unit_price": 121.0, "total_price": 121.0}]
    invoice = good_invoice(items=items, subtotal=100.0, tax_amount=21.0, total_amount=121.0)
    assert validate_invoice(invoice) == []


def test_checks_without_inputs_are_skipped() -> None:
    invoice = good_invoice(subtotal=None, tax_amount=None, items=[{"description": "x"}])
    assert validate_invoice(invoice) == []
    minimal = {key: good_invoice()[key] for key in REQUIRED_FIELDS}
    assert validate_invoice(minimal) == []
    # An item whose total is unknown disables the sum check, not the other items' checks.
    items = [
        {"description": "a", "quantity": 2, "unit_price": 5.0, "total_price": 11.0},
        {"description": "b"},
    ]
    assert validate_invoice(good_invoice(items=items)) == [
        "item 1 ('a'): 2 x 5.00 = 10.00, but total_price is 11.00"
    ]


def test_numbers_as_strings() -> None:
    invoice = good_invoice(subtotal="999.99", tax_amount="EUR 190.00", total_amount="1,189.99")
    assert validate_invoice(invoice) == []
    problems = validate_invoice(good_invoice(total_amount="1.189,99"))
    assert problems == ["total_amount is not a number: '1.189,99'"]
    assert validate_invoice(good_invoice(tax_amount=True)) == ["tax_amount is not a number: True"]


def test_malformed_items() -> None:
    assert validate_invoice(good_invoice(items="lots")) == ["items is not a list: str"]
    problems = validate_invoice(good_invoice(items=[good_invoice()["items"][0], 42]))
    assert problems == ["item 2 is not an object: 42"]


def row(
    name: str,
    issuer: str | None,
    total: float | None,
    currency: str | None = "EUR",
    credits: float | None = 1.0,
    status: str = "completed",
    problems: list[str] | None = None,
) -> dict[str, Any]:
    response = (
        None
        if status != "completed"
        else {"issuer_name": issuer, "total_amount": total, "currency": currency}
    )
    return {
        "input": f"s3://invoices/2026-01-15/{name}",
        "status": status,
        "response": response,
        "usage": {"credits_used": credits, "elements_processed": 1},
        "problems": problems or [],
    }


ROWS = [
    row("a.pdf", "Zeta GmbH", 100.0),
    row("b.pdf", "Alpha SARL", 10.5, credits=2.0),
    row("c.pdf", "Zeta GmbH", 50.25, problems=["missing invoice_id"]),
    row("d.pdf", "Alpha SARL", 20.0, currency="gbp", credits=None),
    row("e.pdf", "Alpha SARL", 0.1),
    row("f.pdf", "Alpha SARL", 0.2),
    row("g.pdf", None, None, status="failed", credits=None),
    row("h.pdf", "Zeta GmbH", None, currency=None),
]


def test_summarize_by_issuer() -> None:
    assert summarize_by_issuer(ROWS) == [
        {
            "issuer": "Alpha SARL",
            "count": 4,
            "invalid": 0,
            "totals": {"EUR": 10.8, "GBP": 20.0},
            "credits_used": 4.0,
        },
        {"issuer": "Zeta GmbH", "count": 3, "invalid": 1, "totals": {"EUR": 150.25}, "credits_used": 3.0},
        {"issuer": UNKNOWN_ISSUER, "count": 1, "invalid": 1, "totals": {}, "credits_used": 0.0},
    ]
    assert summarize_by_issuer([]) == []


def test_format_summary_table() -> None:
    failed = [r for r in ROWS if r["problems"] or r["status"] != "completed"]
    failed[1]["error"] = "could not read PDF"
    table = format_summary_table(summarize_by_issuer(ROWS), failed)
    assert table.splitlines() == [
        "Issuer            Invoices  Invalid  Currency  Total amount  Credits",
        "----------------  --------  -------  --------  ------------  -------",
        "Alpha SARL               4        0  EUR              10.80     4.00",
        "                                     GBP              20.00",
        "Zeta GmbH                3        1  EUR             150.25     3.00",
        "(unknown issuer)         1        1                       -     0.00",
        "----------------  --------  -------  --------  ------------  -------",
        "All                      8        2  EUR             161.05     7.00",
        "                                     GBP              20.00",
        "",
        "Failed validation or extraction (2):",
        "  c.pdf  missing invoice_id",
        "  g.pdf  extraction failed: could not read PDF",
    ]


def test_format_summary_table_without_failures() -> None:
    table = format_summary_table(summarize_by_issuer(ROWS[:2]), [])
    assert table.endswith("\n\nAll documents passed validation.")
    assert table.splitlines()[-3].split() == ["All", "2", "0", "EUR", "110.50", "3.00"]
    empty = format_summary_table([], [])
    assert empty.splitlines()[-3].split() == ["All", "0", "0", "-", "0.00"]
    assert empty.endswith("No documents were processed.")


# --- real invoices (public corpus next to the project; never copied into it) ----------------


def invoice2data_result(truth: dict[str, Any]) -> dict[str, Any]:
    """What a perfect ``document.invoice`` extraction of an invoice2data sample would return."""
    total, untaxed = truth.get("amount"), truth.get("amount_untaxed")
    tax = truth.get("amount_tax")
    if tax is None and total is not None and untaxed is not None:
        tax = round(total - untaxed, 2)
    items = [
        {
            "description": line.get("name") or line.get("desc"),
            "quantity": line.get("qty"),
            "unit_price": line.get("price_unit", line.get("price")),
            "total_price": line.get("price_subtotal"),
        }
        for line in truth.get("lines", [])
        if line.get("name") or line.get("desc")
    ]
    return {
        "invoice_id": truth.get("invoice_number"),
        "invoice_issue_date": truth.get("date"),
        "invoice_due_date": truth.get("date_due"),
        "issuer_name": truth.get("issuer"),
        "currency": truth.get("currency"),
        "items": items,
        "subtotal": untaxed,
        "tax_amount": tax,
        "total_amount": total,
    }


# What the validator says about each real invoice's ground truth, and why.
REAL_EXPECTED: dict[str, list[str]] = {
    "AmazonWebServices": [],
    "FlipkartInvoice": [],
    "QualityHosting": [],
    "oyo": [],
    # A 10 % line discount: 1 x 1.00 billed 0.90. The validator reports it for review.
    "AzureInterior": ["item 3 ('Olive Oil'): 1 x 1.00 = 1.00, but total_price is 0.90"],
    # Consumer invoice priced with VAT included, plus an "Incl. ..." levy line that is already
    # inside the prices: the lines add up to neither the net subtotal nor the total.
    "coolblue1": ["items sum to 722.21, but subtotal is 593.36 (difference -128.85)"],
}


@needs_real_invoices
@pytest.mark.parametrize("name", sorted(REAL_EXPECTED))
def test_real_invoice_ground_truth(name: str) -> None:
    truth = json.loads((REAL_INVOICES / "invoice2data" / f"{name}.json").read_text())[0]
    result = invoice2data_result(truth)
    assert validate_invoice(result) == REAL_EXPECTED[name]
    # Same invoice with a misread total: caught whenever subtotal and tax are known.
    if result["subtotal"] is not None and result["tax_amount"] is not None:
        misread = validate_invoice({**result, "total_amount": result["total_amount"] + 10})
        assert any("but total_amount is" in problem for problem in misread)


@needs_real_invoices
def test_real_invoices_summary() -> None:
    rows = []
    for name in sorted(REAL_EXPECTED):
        result = invoice2data_result(
            json.loads((REAL_INVOICES / "invoice2data" / f"{name}.json").read_text())[0]
        )
        rows.append(
            {
                "input": f"{name}.pdf",
                "status": "completed",
                "response": result,
                "usage": {"credits_used": 1.0},
                "problems": validate_invoice(result),
            }
        )
    summary = summarize_by_issuer(rows)
    assert [(s["issuer"], s["count"], s["invalid"], s["totals"]) for s in summary] == [
        ("Amazon Web Services", 1, 0, {"USD": 4.11}),
        ("Azure Interior", 1, 1, {"USD": 279.84}),
        ("Coolblue B.V.", 1, 1, {"EUR": 717.97}),
        ("Flipkart", 1, 0, {"INR": 319.0}),
        ("OYO", 1, 0, {"INR": 1939.0}),
        ("QualityHosting AG", 1, 0, {"EUR": 34.73}),
    ]
    table = format_summary_table(summary, [r for r in rows if r["problems"]])
    assert "All                         6        2  EUR" in table
    assert "AzureInterior.pdf" in table and "coolblue1.pdf" in table
