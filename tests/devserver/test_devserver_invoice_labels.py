"""The text engine's labels on what real invoices print (the lines as OCR gives them).

Each case is a layout seen on real e-invoices' prints: a stylesheet's dated version line above
the invoice's own date, correction and insurance headings, French headings with no "n°", a
credit note printing its total with a minus, a net total beside the gross one, and a total one
digit off its net plus tax. The total cases are what OCR makes of a print's totals block: the
invoice's own arithmetic (net plus tax, amount due plus prepayments) says which reading is right.
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
        "a document type code between the words and the number",
        "Gutschrift (Selbst ausgestellte Rechnung) (389) Nr. 471102 vom 05.03.2018",
        {"invoice_id": "471102", "invoice_issue_date": "2018-03-05"},
    ),
    (
        "a text layer's order of the heading",
        "Handelsrechnung (380) 05.06.2018   Nr. 471102   vom   \nWährung: EUR\n"
        "Liefer- und Leistungsdatum: 03.06.2018",
        {"invoice_id": "471102", "invoice_issue_date": "2018-06-05"},
    ),
    (
        "the number lost, the heading's date kept; a space before a date's dot",
        "Handelsrechnung Nr. vom 31.10.2018\nBestellung 12 vom 20 .09.2018",
        {"invoice_id": None, "invoice_issue_date": "2018-10-31"},
    ),
    (
        "a euro invoice with one euro sign read as a dollar stays day first",
        "Facture FA-2017-0009\nDate de facture 05/11/2017\nTotal HT 530,75 €\nTVA 0% $30,75€ 0,00€\n"
        "Total TTC 530,75 €",
        {"invoice_id": "FA-2017-0009", "invoice_issue_date": "2017-11-05", "total_amount": 530.75},
    ),
    (
        "net plus tax picks the reading without the dust before it",
        "Rechnungssumme ohne USt. 380,00\nSteuerbetrag 0,00\nBruttosumme 35 380,00",
        {"total_amount": 380.0},
    ),
    (
        "a tax that lost its decimal comma still checks the total",
        "Rechnungssumme ohne USt. 473,00\nSteuerbetrag 5687\nBruttosumme 2 529,87",
        {"total_amount": 529.87},
    ),
    (
        "the gross line lost: amount due plus the prepayment is net plus tax",
        "Rechnungssumme ohne USt. 177,49\nSteuerbetrag in EUR 20,16\nErhaltene Anzahlungen -50,00\n"
        "Zahlbetrag 147,65",
        {"total_amount": 197.65},
    ),
    (
        "a gross total the amount due repeats wins over a misread tax",
        "Rechnungssumme ohne USt. 473,00\nSteuerbetrag 36,87\nBruttosumme 529,87\nZahlbetrag 529,87",
        {"total_amount": 529.87},
    ),
    (
        "only an amount due found: net plus tax, printed elsewhere, is the total",
        "Rechnungssumme ohne USt. 220,00\nSteuerbetrag 0,00\nOffene Zahlungen 220,00\nZahlbetrag 440,00",
        {"total_amount": 220.0},
    ),
    (
        "an amount due after a payment is not the total",
        "Invoice No. 7\nSubtotal 90.00\nVAT total 10.00\nTotal 100.00\nAmount due 80.00",
        {"total_amount": 100.0},
    ),
    (
        "a correction's minus lost by OCR",
        "Rechnungssumme ohne USt. -7,67\nBruttosumme 8,79",
        {"total_amount": -8.79},
    ),
    (
        "EN 16931's own names, as a viewer prints them, with a payment made",
        "Invoice number: INV-9\nIssue date: 2024-03-01\nInvoice total amount without VAT 100.00\n"
        "Invoice total VAT amount 19.00\nInvoice total amount with VAT 119.00\nPaid amount 19.00\n"
        "Amount due for payment 100.00",
        {"invoice_id": "INV-9", "invoice_issue_date": "2024-03-01", "total_amount": 119.0},
    ),
    (
        "the German names, the gross line lost",
        "Rechnungsnummer: R-1\nRechnungsdatum: 01.03.2024\n"
        "Gesamtbetrag der Rechnung ohne Umsatzsteuer 100,00\nGesamtbetrag der Rechnungsumsatzsteuer 19,00\n"
        "Gezahlter Betrag 19,00\nFälliger Zahlungsbetrag 100,00",
        {"invoice_id": "R-1", "invoice_issue_date": "2024-03-01", "total_amount": 119.0},
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
