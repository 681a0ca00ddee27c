"""The invoice rule set: each problem names its field, users pick and add rules, confidence routes.

Crafted responses cover each rule; the generated invoices (``tests/invoices.py``) prove that what
an exact reader of each good invoice returns passes every rule, and that a misread total does not.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from functools import partial
from typing import Any

import pytest

from airflow_provider_vlm.invoices import (
    DEFAULT_RULES,
    ISO_4217,
    REQUIRED_FIELDS,
    Problem,
    check_invoice,
    confidence_at_least,
    dates_parse,
    known_currency,
    line_items_add_up,
    required_fields,
    subtotal_plus_tax_is_total,
)
from tests.invoice_rules.test_rules_ported import good_invoice
from tests.invoices import InvoiceSet, text_fields, xml_fields


def fields(problems: list[Problem]) -> list[str]:
    return [problem.field for problem in problems]


def test_each_problem_names_its_field_and_rule() -> None:
    items = good_invoice()["items"]
    items[1] = {**items[1], "total_price": 109.99}
    invoice = good_invoice(
        invoice_id=" ", items=items, total_amount=1300.0, currency="€", invoice_due_date="31/02/2026"
    )
    problems = check_invoice(invoice)
    assert [(p.field, p.rule) for p in problems] == [
        ("invoice_id", "required_fields"),
        ("items[1].total_price", "line_items_add_up"),
        ("subtotal", "line_items_add_up"),
        ("total_amount", "subtotal_plus_tax_is_total"),
        ("currency", "known_currency"),
        ("invoice_due_date", "dates_parse"),
    ]
    assert problems[0].to_dict() == {
        "field": "invoice_id",
        "message": "missing invoice_id",
        "rule": "required_fields",
    }
    assert str(problems[4]) == "currency '€' is not an ISO 4217 code"
    assert str(problems[5]) == "invoice_due_date is not a date (YYYY-MM-DD): '31/02/2026'"


@pytest.mark.parametrize("code", ["EUR", "usd", " GBP ", "CHF", "JPY", "INR", "XOF"])
def test_known_currencies(code: str) -> None:
    assert known_currency(good_invoice(currency=code)) == []


@pytest.mark.parametrize("code", ["€", "$", "EURO", "XXX", "XTS", "ABC", 978, ""])
def test_unknown_currencies(code: Any) -> None:
    found = known_currency(good_invoice(currency=code))
    # A blank currency is the required-field rule's to report, once.
    assert fields(found) == ([] if code == "" else ["currency"])


def test_the_currency_list_is_iso_4217_codes() -> None:
    assert len(ISO_4217) > 150
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in ISO_4217)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2026-11-20", True),
        ("2026-11-20T10:15:00", True),
        ("2026-11-20T10:15:00Z", True),
        ("2026-11-20T10:15:00+01:00", True),
        ("2026-02-30", False),
        ("20/11/2026", False),
        ("November 20, 2026", False),
        (20261120, False),
        (None, True),  # not extracted: not this rule's problem
    ],
)
def test_dates_parse(value: Any, ok: bool) -> None:
    found = dates_parse(good_invoice(invoice_issue_date=value))
    assert fields(found) == ([] if ok else ["invoice_issue_date"])


def test_users_pick_the_rules_and_add_their_own() -> None:
    def has_po_number(invoice: Mapping[str, Any]) -> list[Problem]:
        return [] if invoice.get("po_number") else [Problem("po_number", "no purchase order number")]

    def issuer_is_known(invoice: Mapping[str, Any]) -> list[tuple[str, str]]:
        name = invoice.get("issuer_name")
        return [] if name == "Acme" else [("issuer_name", f"{name!r} is not on the supplier list")]

    invoice = good_invoice(currency="€")
    mine = [required_fields, has_po_number, issuer_is_known]
    problems = check_invoice(invoice, mine)
    assert [(p.field, p.rule) for p in problems] == [
        ("po_number", "has_po_number"),
        ("issuer_name", "issuer_is_known"),
    ]
    # The defaults plus one: the currency rule runs again.
    assert fields(check_invoice(invoice, [*DEFAULT_RULES, has_po_number])) == ["currency", "po_number"]
    # A tolerance is a rule's keyword argument.
    loose = [partial(subtotal_plus_tax_is_total, tolerance=1.0)]
    assert check_invoice(good_invoice(total_amount=1190.5), loose) == []


def test_a_rule_of_the_wrong_shape_is_named() -> None:
    def says_a_string(invoice: Mapping[str, Any]) -> list[str]:
        return ["something"]

    with pytest.raises(TypeError, match="says_a_string returned 'something'"):
        check_invoice(good_invoice(), [says_a_string])  # type: ignore[list-item]


def confident(invoice: dict[str, Any], scores: dict[str, float]) -> dict[str, Any]:
    """``invoice`` with an ``X_metadata`` sibling per scored field, as a confidence=True reply has."""
    out = dict(invoice)
    for field, score in scores.items():
        out[f"{field}_metadata"] = {"confidence": score, "bbox": {"xywh": [0.1, 0.2, 0.3, 0.04]}}
    return out


def test_a_required_field_below_min_confidence_is_a_problem() -> None:
    scores = dict.fromkeys(REQUIRED_FIELDS, 0.97)
    invoice = confident(good_invoice(), {**scores, "total_amount": 0.61})
    assert check_invoice(invoice) == []  # no floor asked: confidence is not judged
    problems = check_invoice(invoice, min_confidence=0.8)
    assert [p.to_dict() for p in problems] == [
        {
            "field": "total_amount",
            "message": "total_amount confidence 0.61 is below min_confidence 0.80",
            "rule": "low_confidence",
        }
    ]
    # Routed with the failed rules, in one list.
    wrong = confident(good_invoice(total_amount=1300.0), {**scores, "total_amount": 0.61})
    assert fields(check_invoice(wrong, min_confidence=0.8)) == ["total_amount", "total_amount"]
    assert check_invoice(invoice, min_confidence=0.6) == []
    # Optional fields are not judged unless named.
    shaky = confident(good_invoice(), {**scores, "customer_name": 0.2})
    assert check_invoice(shaky, min_confidence=0.8) == []
    named = check_invoice(shaky, min_confidence=0.8, confidence_fields=["customer_name"])
    assert fields(named) == ["customer_name"]


def test_min_confidence_without_confidence_in_the_reply_is_not_a_silent_pass() -> None:
    invoice = confident(good_invoice(), dict.fromkeys(REQUIRED_FIELDS[1:], 0.99))
    problems = check_invoice(invoice, min_confidence=0.5)
    assert [str(p) for p in problems] == [
        "invoice_id has no confidence (request the prediction with confidence=True)"
    ]
    # A field that was not extracted is reported once, as missing.
    missing = confident(good_invoice(invoice_id=None), dict.fromkeys(REQUIRED_FIELDS[1:], 0.99))
    assert [str(p) for p in check_invoice(missing, min_confidence=0.5)] == ["missing invoice_id"]


@pytest.mark.parametrize("floor", [-0.1, 1.5, True])
def test_min_confidence_out_of_range(floor: Any) -> None:
    with pytest.raises(ValueError, match="min_confidence must be between 0 and 1"):
        confidence_at_least(floor)


def test_the_generated_invoices_pass_every_rule(invoice_set: InvoiceSet) -> None:
    for invoice in invoice_set.einvoices:
        assert check_invoice(xml_fields(invoice)) == [], invoice.path.name
    for invoice in invoice_set.good:
        assert check_invoice(text_fields(invoice)) == [], invoice.path.name
    currencies = {invoice.currency for invoice in invoice_set.good}
    assert len(currencies) > 1 and currencies <= ISO_4217


def test_a_misread_generated_invoice_is_caught(invoice_set: InvoiceSet) -> None:
    for invoice in invoice_set.einvoices:
        read = xml_fields(invoice)
        misread = {**read, "total_amount": read["total_amount"] + 1.0}
        assert fields(check_invoice(misread)) == ["total_amount"], invoice.path.name
        swapped = {
            **read,
            "items": [{**read["items"][0], "total_price": read["items"][0]["total_price"] + 5}],
        }
        assert "items[0].total_price" in fields(line_items_add_up(swapped))


def test_the_rules_import_no_airflow() -> None:
    """A client-only script uses the rules without Airflow being imported (or even installed)."""
    code = (
        "import sys\n"
        "import airflow_provider_vlm.invoices\n"
        "loaded = [m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
