"""The text engine's labels on what real invoices print (the lines as OCR gives them).

Each case is a layout seen on real e-invoices' prints: a stylesheet's dated version line above
the invoice's own date, correction and insurance headings, French headings with no "n°", a
credit note printing its total with a minus, a net total beside the gross one, and a total one
digit off its net plus tax.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_vlm.devserver.engines import invoice_text

CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "stylesheet version date",
        "Stylesheet zur Lesbarmachung\nZUGFeRD-Version : 2.1 vom 24.03.2020\n"
        "Stylesheet-Version: 2.0 vom 18.10.2018\nHandelsrechnung Nr. 471102 vom 05.03.2020\n"
        "Bruttosumme 235,62",
        {"invoice_id": "471102", "invoice_issue_date": "2020-03-05", "total_amount": 235.62},
    ),
    (
        "correction heading",
        "Rechnungskorrektur (384) Nr. RK21012345 vom 16.09.2018\nLiefer- und Leistungsdatum: 05.08.2018",
        {"invoice_id": "RK21012345", "invoice_issue_date": "2018-09-16"},
    ),
    (
        "insurer's heading",
        "Rechnung des Versicherers Nr. 00.123.456.7-2018-1 vom 11.03.2018",
        {"invoice_id": "00.123.456.7-2018-1", "invoice_issue_date": "2018-03-11"},
    ),
    (
        "issued at, not the delivery date",
        "Invoice # RE-20201121/508 issued at 2020-11-21\nDate of delivery 2020-11-10\n"
        "Net total: 496.00 €\nVAT total: 75.04 €\nDue payable: 571.04 €",
        {"invoice_id": "RE-20201121/508", "invoice_issue_date": "2020-11-21", "total_amount": 571.04},
    ),
    (
        "French credit note",
        "Avoir AV-2017-0005\nDate de facture 16/11/2017\nDate d'échéance 16/11/2017\n"
        "Facture liée FA-2017-0010\nTotal HT -218,48 €\nTotal TTC -233,47 €",
        {"invoice_id": "AV-2017-0005", "invoice_issue_date": "2017-11-16", "total_amount": 233.47},
    ),
    (
        "one digit misread",
        "Rechnung Nr. 471102 vom 05.03.2018\nRechnungssumme ohne USt. 473,00\nSteuerbetrag 56,87\n"
        "Bruttosumme 329,87",
        {"invoice_id": "471102", "invoice_issue_date": "2018-03-05", "total_amount": 529.87},
    ),
]


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_labels_of_real_invoice_layouts(text: str, expected: dict[str, Any]) -> None:
    found = invoice_text.parse(text)
    assert {name: found.get(name) for name in expected} == expected


def test_a_correction_keeps_its_minus_and_zero_lines_are_passed_over() -> None:
    text = (
        "Rechnungskorrektur (384) Nr. RK1 vom 16.09.2018\nGesamtbetrag der Abschläge -0,00\n"
        "Bruttosumme -8,79\nZahlbetrag -8,79"
    )
    assert invoice_text.parse(text)["total_amount"] == -8.79
    assert invoice_text.parse("Rechnung Nr. 1\nZahlbetrag 0,00\nTotal 12,50")["total_amount"] == 12.5
