"""What the invoice parse makes of OCR text: misreadings a scan's dust causes, and the German and
English date and number formats (no Tesseract needed: the text is given)."""

from __future__ import annotations

import pytest

from airflow_provider_vlm.devserver.engines import invoice_text
from airflow_provider_vlm.devserver.engines.ocr import Page, Word
from airflow_provider_vlm.devserver.engines.scan import text_of


def _page(*lines: str) -> Page:
    """Words on lines 40 px apart, as Tesseract would give them."""
    words = [
        Word(text, 90.0, 100 + 120 * column, 100 + 40 * row, 100, 20)
        for row, line in enumerate(lines)
        for column, text in enumerate(line.split())
    ]
    return Page(1240, 1754, tuple(words))


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (("Invoice No; = INV-83-49293", "Total Due $1,234:56-"), ("INV-83-49293", None, 1234.56)),
        (
            ("Rechnungsnummer: .RE-2022-3849", "Rechnungsdatum: . 05:03.2022"),
            ("RE-2022-3849", "2022-03-05", None),
        ),
        (("Rechnungs-Nr.: RE-7", "Gesamtbetrag 1.234:56 EUR"), ("RE-7", None, 1234.56)),
        (
            ("Invoice # . . INV-80-65233 _", "Invoice Date: 03/05/2013", "Total $9.00"),
            ("INV-80-65233", "2013-03-05", 9.0),
        ),
        (("Invoice No.: A-1", "Invoice Date: 03/05/2013", "Total £9.00"), ("A-1", "2013-05-03", 9.0)),
        (("Invoice No.: B-2", "Subtotal 580.13", "AmountDue 690.35"), ("B-2", None, 690.35)),
        (
            (
                "Handelsrechnung (380) Nr. 471102 vom 05.03.2018",
                "Gesamtbetrag der Zuschläge 0,00",
                "Bruttosumme 529,87",
            ),
            ("471102", "2018-03-05", 529.87),
        ),
        # Label words a letter or two off: substituted, dropped; "Rechnungssumme" is a label itself.
        (
            (
                "Rechnung Nr. 9 vom 05.03.2018",
                "Rechnungssumme ohne USt. 473,00",
                "Kteverbetrag 56,87",
                "Buttosumme 529,87",
            ),
            ("9", "2018-03-05", 529.87),
        ),
    ],
)
def test_ocr_misreadings_are_put_right(lines: tuple[str, ...], expected: tuple[object, ...]) -> None:
    found = invoice_text.parse(text_of(_page(*lines)))

    assert (found.get("invoice_id"), found.get("invoice_issue_date"), found.get("total_amount")) == expected


def test_an_amount_split_after_its_decimal_point_is_joined_again() -> None:
    words = (
        Word("Total", 90.0, 100, 100, 80, 20),
        Word("2,076.", 90.0, 300, 100, 70, 20),
        Word("76€", 80.0, 376, 100, 40, 20),
        Word("Ref.", 90.0, 100, 140, 50, 20),
        Word("12.", 90.0, 160, 140, 30, 20),
        Word("34", 90.0, 400, 140, 20, 20),  # far apart: not one word
    )
    assert text_of(Page(1240, 1754, words)) == "Total 2,076.76€\nRef. 12. 34"
    assert invoice_text.parse(text_of(Page(1240, 1754, words)))["total_amount"] == 2076.76


def test_a_time_is_not_taken_for_an_amount() -> None:
    assert text_of(_page("Uhrzeit 12:30")) == "Uhrzeit 12:30"
