"""The suite's invoices: a seeded set the project generates, and the optional real corpus beside it.

The set comes from the demo's generator (``vlm_demo.samples``), so a clone with nothing beside
it runs every test that needs invoices, and each file's expected fields are known exactly (the
generator wrote them). :func:`generated` writes it once per test process into a temporary
folder; ``tests/conftest.py`` hands it out as the session fixture ``invoice_set``.

The real public invoices in ``../shared/data/invoices`` are an extra, never copied here: tests
whose point is that corpus are marked :data:`needs_real_invoices` and skip, saying why, without it.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from vlm_demo.samples import (
    FACTURX_FILENAME,
    UBL_FILENAME,
    Party,
    SampleInvoice,
    build_ubl_xml,
    compose_invoice,
    generate_samples,
    write_invoice,
)

ROOT = Path(__file__).resolve().parents[1]
#: The real public invoices, when they are beside the project (``../shared/data/invoices``).
REAL_INVOICES = ROOT.parent / "shared" / "data" / "invoices"
REAL_ABSENT = (
    "the real public invoices are not beside the project (../shared/data/invoices is an optional extra)"
)
needs_real_invoices = pytest.mark.skipif(not REAL_INVOICES.is_dir(), reason=REAL_ABSENT)

SEED = 18  # its four Factur-X samples are in GBP and EUR, from four issuers
DAY = date(2026, 11, 20)
#: The primary e-invoice's number and total. Kept equal to the values the suite has asserted
#: since it first ran on a public sample, so assertions across modules read the same literals.
PRIMARY_ID = "471102"
PRIMARY_TOTAL = 529.87

_SELLER = Party("Lindenhof Datenwerk GmbH", "Kastanienallee 12", "10435", "Berlin", "DE", "DE294817365")
_BUYER = Party("Brauhaus Oberkamp KG", "Marktstrasse 3", "80331", "Muenchen", "DE", "DE281736492")
_US_SELLER = Party(
    "Cascade Ridge Analytics LLC", "410 SW Alder Street", "97204", "Portland", "US", "US93-1837465"
)
_US_BUYER = Party("Harbor Lane Foods Inc.", "22 Pier Road", "02110", "Boston", "US", "US04-2918374")


@dataclass(frozen=True)
class InvoiceSet:
    """The generated files by kind, each e-invoice with the values it states."""

    folder: Path
    #: Factur-X (CII), EUR, number 471102, total 529.87: the invoice most tests submit.
    primary: SampleInvoice
    #: Every e-invoice with embedded XML: Factur-X CII (EUR, GBP, USD) and one XRechnung UBL.
    einvoices: tuple[SampleInvoice, ...]
    #: The XRechnung (UBL 2.1, attached as ``xrechnung.xml``).
    xrechnung: SampleInvoice
    #: PDFs with a text layer and no XML: the engine reads the printed text.
    text_only: tuple[SampleInvoice, ...]
    #: A Factur-X PDF whose embedded XML is cut off: a failed prediction naming the XML.
    broken_xml: Path
    #: The primary PDF cut in half (no cross-reference table, no end).
    truncated: Path
    #: An empty ``.pdf`` file.
    empty: Path
    #: A text file named ``.pdf``.
    not_pdf: Path
    #: The primary invoice rendered as a PNG (an image input).
    image: Path

    @property
    def good(self) -> tuple[SampleInvoice, ...]:
        """Every readable invoice: e-invoices then text-only ones."""
        return self.einvoices + self.text_only

    @property
    def mapped(self) -> list[Path]:
        """Three different invoices for mapped and batch runs: two e-invoices, one text-only."""
        return [self.einvoices[1].path, self.einvoices[2].path, self.text_only[0].path]


def xml_fields(invoice: SampleInvoice) -> dict[str, Any]:
    """The ``document.invoice`` fields an exact reader of the embedded XML returns for ``invoice``."""
    return {
        "invoice_id": invoice.invoice_id,
        "invoice_issue_date": invoice.issue_date.isoformat(),
        "invoice_due_date": invoice.due_date.isoformat(),
        "issuer_name": invoice.issuer.name,
        "issuer_vat_id": invoice.issuer.vat_id,
        "issuer_address": _address(invoice.issuer),
        "customer_name": invoice.customer.name,
        "customer_vat_id": invoice.customer.vat_id,
        "customer_billing_address": _address(invoice.customer),
        "currency": invoice.currency,
        "subtotal": float(invoice.subtotal),
        "tax_amount": float(invoice.tax_amount),
        "total_amount": float(invoice.total_amount),
        "balance_due": float(invoice.total_amount),
        "payment_terms": invoice.payment_terms,
        "items": [
            {
                **item.to_json(),
                "currency": None,
                "item_tax_details": f"VAT {_percent(invoice.tax_rate)}%",
                "item_adjustment_details": None,
            }
            for item in invoice.items
        ],
    }


def text_fields(invoice: SampleInvoice) -> dict[str, Any]:
    """The fields the dev server's text-layer reader finds on a generated invoice's printed page."""
    return {
        "invoice_id": invoice.invoice_id,
        "invoice_issue_date": invoice.issue_date.isoformat(),
        "invoice_due_date": invoice.due_date.isoformat(),
        "issuer_name": invoice.issuer.name,
        "currency": invoice.currency,
        "subtotal": float(invoice.subtotal),
        "tax_amount": float(invoice.tax_amount),
        "total_amount": float(invoice.total_amount),
    }


def _address(party: Party) -> dict[str, Any]:
    return {
        "street": party.street,
        "city": party.city,
        "state": None,
        "postal_code": party.postcode,
        "country": party.country,
    }


def _percent(rate: Decimal) -> str:
    text = f"{rate * 100:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _primary(folder: Path) -> SampleInvoice:
    # 3 h x 120.00 + 1 x 85.27 = 445.27; 19 % VAT 84.60; total 529.87.
    return compose_invoice(
        folder / "einvoice-471102.pdf",
        invoice_id=PRIMARY_ID,
        issuer=_SELLER,
        customer=_BUYER,
        issue_date=date(2026, 11, 16),
        currency="EUR",
        tax_rate=Decimal("0.19"),
        lines=[
            ("Data pipeline consulting", Decimal(3), "h", "HUR", Decimal("120.00")),
            ("Managed scheduler licence", Decimal(1), "pcs", "C62", Decimal("85.27")),
        ],
    )


def _render_png(invoice: SampleInvoice, path: Path) -> Path:
    """The invoice's main facts drawn as an image (what a phone photo of it would show)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (600, 400), "white")
    draw = ImageDraw.Draw(image)
    lines = [
        "INVOICE",
        invoice.issuer.name,
        f"Invoice number: {invoice.invoice_id}",
        f"Issue date: {invoice.issue_date.isoformat()}",
        *(f"{item.description}  {item.total_price:,.2f}" for item in invoice.items),
        f"Total due ({invoice.currency}) {invoice.total_amount:,.2f} {invoice.currency}",
    ]
    for row, line in enumerate(lines):
        draw.text((30, 30 + 28 * row), line, fill="black")
    image.save(path, format="PNG")
    return path


def generate_invoice_set(folder: Path) -> InvoiceSet:
    """Write the seeded set into ``folder`` (same bytes every time) and describe it."""
    folder.mkdir(parents=True, exist_ok=True)
    primary = _primary(folder)
    write_invoice(primary)
    facturx = generate_samples(folder / "facturx", count=4, seed=SEED, day=DAY, embed_every=1, bad=0)
    dollars = compose_invoice(
        folder / "einvoice-usd.pdf",
        invoice_id="CRA-2026-0317",
        issuer=_US_SELLER,
        customer=_US_BUYER,
        issue_date=date(2026, 11, 12),
        currency="USD",
        tax_rate=Decimal("0.08"),
        lines=[
            ("Forecasting model retraining", Decimal("12.5"), "h", "HUR", Decimal("165.00")),
            ("Dashboard hosting (monthly)", Decimal(1), "month", "MON", Decimal("740.00")),
            ("Data quality report", Decimal(4), "pcs", "C62", Decimal("95.50")),
        ],
    )
    write_invoice(dollars)
    xrechnung = compose_invoice(
        folder / "xrechnung.pdf",
        invoice_id="XR-2026-0042",
        issuer=_BUYER,
        customer=_SELLER,
        issue_date=date(2026, 11, 18),
        currency="EUR",
        tax_rate=Decimal("0.07"),
        lines=[
            ("Catering, team offsite (per person)", Decimal(24), "pcs", "C62", Decimal("31.50")),
            ("Room hire, half day", Decimal(1), "pcs", "C62", Decimal("280.00")),
        ],
        payment_days=14,
    )
    write_invoice(xrechnung, attachment=(UBL_FILENAME, build_ubl_xml(xrechnung)))
    # Another day: other invoices, other file names (INV-20261119-...), no XML.
    text_only = generate_samples(
        folder / "text", count=3, seed=SEED, day=DAY - timedelta(days=1), embed_every=0, bad=0
    )

    broken = compose_invoice(
        folder / "broken-xml.pdf",
        invoice_id="BRK-2026-0001",
        issuer=_SELLER,
        customer=_BUYER,
        issue_date=date(2026, 11, 17),
        currency="EUR",
        tax_rate=Decimal("0.19"),
        lines=[("Code review and architecture workshop", Decimal(2), "h", "HUR", Decimal("140.00"))],
    )
    cut_xml = b'<?xml version="1.0"?>\n<rsm:CrossIndustryInvoice xmlns:rsm="urn:x"><rsm:ExchangedDocument>'
    write_invoice(broken, attachment=(FACTURX_FILENAME, cut_xml))
    content = primary.path.read_bytes()
    truncated = folder / "truncated.pdf"
    truncated.write_bytes(content[: len(content) // 2])
    empty = folder / "empty.pdf"
    empty.write_bytes(b"")
    not_pdf = folder / "notes.pdf"
    not_pdf.write_text("this is not a PDF\n")
    return InvoiceSet(
        folder=folder,
        primary=primary,
        einvoices=(primary, *facturx, dollars, xrechnung),
        xrechnung=xrechnung,
        text_only=tuple(text_only),
        broken_xml=broken.path,
        truncated=truncated,
        empty=empty,
        not_pdf=not_pdf,
        image=_render_png(primary, folder / "invoice.png"),
    )


@functools.cache
def generated() -> InvoiceSet:
    """The set for this test process: generated on first use, removed when the process exits.

    Module-level names (the DAG tests' ``INVOICE``) and the ``invoice_set`` fixture share it.
    """
    folder = Path(tempfile.mkdtemp(prefix="vlm-test-invoices-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return generate_invoice_set(folder)
