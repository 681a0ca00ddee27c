"""Seeded generator of realistic sample invoices (PDF) for the demo and the tests.

The nightly example DAG needs a folder of invoices "of the day" that anyone can produce without
an account or a download. Each run of :func:`generate_samples` writes ``OUT_DIR/<day>/`` with
PDFs drawn by fpdf2 (a real text layer) and a ``manifest.json`` holding the ground truth, so a
test can compare what an extractor returns with what was printed.

- Every ``embed_every``-th invoice also carries its data as Factur-X / ZUGFeRD 2 XML
  (``factur-x.xml``, EN 16931 CrossIndustryInvoice), attached the way real e-invoices do it:
  in the EmbeddedFiles name tree and the catalog's ``/AF`` array with ``/AFRelationship /Data``.
  That exercises the dev server's exact XML path next to its text-layer path.
- Amounts add up (line total = quantity x unit price rounded to cents, subtotal = sum of
  lines, tax = rate x subtotal, total = subtotal + tax), except for ``bad`` invoices that carry
  one deliberate defect (see :data:`BAD_KINDS`) so the validation step has something to report.
- Same seed and day give byte-identical files: the PDF creation date, the attachment dates and
  the file identifier are derived from the invoice, never from the clock.
- ``scanned=n`` turns ``n`` of the plain invoices (no XML, no defect) into scans: the drawn page
  rendered, skewed by 1-2 degrees, speckled and written back as an image-only PDF under the same
  name (:mod:`vlm_demo.scans`), the paper a finance team still receives. Their manifest entries
  say ``"scanned": true``; what is printed on them is unchanged.
- :func:`compose_invoice` and :func:`write_invoice` make one invoice with given lines, with the
  XML of choice (Factur-X CII, XRechnung UBL from :func:`build_ubl_xml`, any bytes) or none:
  the test suite builds its own invoice set from them, so it needs no outside data.

Every company, person and tax id in here is fictional.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from fpdf import FPDF

__all__ = [
    "BAD_KINDS",
    "FACTURX_FILENAME",
    "UBL_FILENAME",
    "LineItem",
    "Party",
    "SampleInvoice",
    "build_facturx_xml",
    "build_ubl_xml",
    "compose_invoice",
    "generate_samples",
    "main",
    "write_invoice",
]

#: Name of the embedded XML, as Factur-X 1.0 / ZUGFeRD 2.x require it.
FACTURX_FILENAME = "factur-x.xml"
#: Name of an embedded XRechnung (UBL) invoice, as readers look for it.
UBL_FILENAME = "xrechnung.xml"

#: Deliberate defects, assigned in this order to the ``bad`` invoices of a run:
#: - ``total_mismatch``: the printed total is not subtotal + tax;
#: - ``missing_invoice_id``: no invoice number anywhere on the document;
#: - ``line_total_mismatch``: one line total is not quantity x unit price;
#: - ``subtotal_mismatch``: the subtotal is not the sum of the line totals.
BAD_KINDS: tuple[str, ...] = (
    "total_mismatch",
    "missing_invoice_id",
    "line_total_mismatch",
    "subtotal_mismatch",
)

_CENT = Decimal("0.01")
_RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
_RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
_UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
_QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
_UBL = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_XRECHNUNG = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"


def _money(value: Decimal) -> Decimal:
    """Round to cents the way invoices do (half up), so printed and computed amounts agree."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Party:
    """A seller or buyer: what an invoice prints about a company."""

    name: str
    street: str
    postcode: str
    city: str
    country: str  # ISO 3166-1 alpha-2
    vat_id: str | None = None

    @property
    def address(self) -> str:
        """One-line postal address, the shape ``document.invoice`` returns."""
        return f"{self.street}, {self.postcode} {self.city}, {self.country}"


@dataclass(frozen=True)
class _CatalogueEntry:
    description: str
    unit: str  # printed unit
    unit_code: str  # UN/ECE Rec 20 code for the XML
    low: int  # unit price range, whole currency units
    high: int
    hourly: bool = False  # quantities in half hours rather than whole pieces


@dataclass(frozen=True)
class _Issuer:
    party: Party
    prefix: str
    currency: str
    tax_rate: Decimal
    payment_days: int
    iban: str
    catalogue: tuple[_CatalogueEntry, ...]
    weight: int


_ISSUERS: tuple[_Issuer, ...] = (
    _Issuer(
        party=Party("Nordlicht Software GmbH", "Gneisenaustrasse 41", "10961", "Berlin", "DE", "DE318204957"),
        prefix="NLS",
        currency="EUR",
        tax_rate=Decimal("0.19"),
        payment_days=30,
        iban="DE02 1001 0010 0123 4567 89",
        catalogue=(
            _CatalogueEntry("Data pipeline consulting", "h", "HUR", 95, 140, hourly=True),
            _CatalogueEntry("Airflow platform support (monthly)", "month", "MON", 450, 900),
            _CatalogueEntry("Code review and architecture workshop", "h", "HUR", 110, 160, hourly=True),
            _CatalogueEntry("Managed scheduler licence", "pcs", "C62", 40, 120),
            _CatalogueEntry("On-call incident response", "h", "HUR", 130, 180, hourly=True),
        ),
        weight=4,
    ),
    _Issuer(
        party=Party("Atelier Vauban SARL", "12 rue des Capucins", "69001", "Lyon", "FR", "FR47829301544"),
        prefix="AV",
        currency="EUR",
        tax_rate=Decimal("0.20"),
        payment_days=45,
        iban="FR76 3000 6000 0112 3456 7890 189",
        catalogue=(
            _CatalogueEntry("Oak desk, 160 x 80 cm", "pcs", "C62", 380, 620),
            _CatalogueEntry("Upholstered office chair", "pcs", "C62", 140, 290),
            _CatalogueEntry("Acoustic wall panel", "pcs", "C62", 45, 95),
            _CatalogueEntry("Assembly and installation", "h", "HUR", 55, 75, hourly=True),
            _CatalogueEntry("Delivery, Lyon metropolitan area", "pcs", "C62", 60, 90),
        ),
        weight=3,
    ),
    _Issuer(
        party=Party("Kanaalweg Logistiek B.V.", "Kanaalweg 17", "3526 KL", "Utrecht", "NL", "NL861204388B01"),
        prefix="KWL",
        currency="EUR",
        tax_rate=Decimal("0.21"),
        payment_days=14,
        iban="NL91 ABNA 0417 1643 00",
        catalogue=(
            _CatalogueEntry("Pallet storage, per pallet per week", "pcs", "C62", 4, 9),
            _CatalogueEntry("Full truckload Utrecht - Duisburg", "pcs", "C62", 690, 980),
            _CatalogueEntry("Pick and pack, per order line", "pcs", "C62", 1, 3),
            _CatalogueEntry("Customs documentation", "pcs", "C62", 35, 70),
            _CatalogueEntry("Warehouse labour", "h", "HUR", 38, 52, hourly=True),
        ),
        weight=3,
    ),
    _Issuer(
        party=Party("Thistle & Finch Ltd", "8 Broughton Street", "EH1 3RH", "Edinburgh", "GB", "GB284617390"),
        prefix="TF",
        currency="GBP",
        tax_rate=Decimal("0.20"),
        payment_days=30,
        iban="GB33 BUKB 2020 1555 5555 55",
        catalogue=(
            _CatalogueEntry("Brand identity workshop", "pcs", "C62", 900, 1600),
            _CatalogueEntry("Illustration, full page", "pcs", "C62", 180, 420),
            _CatalogueEntry("Copywriting", "h", "HUR", 60, 95, hourly=True),
            _CatalogueEntry("Print proofing", "pcs", "C62", 25, 60),
        ),
        weight=2,
    ),
)

_CUSTOMERS: tuple[Party, ...] = (
    Party("Halvorsen Marine AS", "Strandkaien 22", "5013", "Bergen", "NO", "NO918273645MVA"),
    Party("Bäckerei Sommerfeld KG", "Lindenallee 5", "04109", "Leipzig", "DE", "DE287364519"),
    Party("Coastline Outdoor Ltd", "3 Harbour Row", "TR18 4AB", "Penzance", "GB", "GB391827364"),
    Party("Studio Ponte Verde S.r.l.", "Via Solferino 14", "20121", "Milano", "IT", "IT09182736451"),
    Party("Meridian Clinics B.V.", "Stationsplein 9", "2011 LR", "Haarlem", "NL", "NL852963741B01"),
    Party("Fjellstrom Analytics AB", "Kungsgatan 48", "111 35", "Stockholm", "SE", "SE556677889901"),
)


@dataclass(frozen=True)
class LineItem:
    """One printed invoice line. ``total_price`` is what the document says, right or wrong."""

    description: str
    quantity: Decimal
    unit: str
    unit_code: str
    unit_price: Decimal
    total_price: Decimal

    def to_json(self) -> dict[str, Any]:
        """The ``document.invoice`` item shape (numbers as floats)."""
        return {
            "description": self.description,
            "quantity": float(self.quantity),
            "unit_price": float(self.unit_price),
            "total_price": float(self.total_price),
        }


@dataclass(frozen=True)
class SampleInvoice:
    """One generated invoice: where it was written and what it says (the ground truth)."""

    path: Path
    invoice_id: str | None
    issuer: Party
    customer: Party
    issue_date: date
    due_date: date
    currency: str
    tax_rate: Decimal
    items: tuple[LineItem, ...]
    subtotal: Decimal
    tax_amount: Decimal
    total_amount: Decimal
    payment_terms: str
    embedded: bool
    bad: str | None
    scanned: bool = False

    def to_manifest(self) -> dict[str, Any]:
        """Manifest entry; its keys follow ``document.invoice`` so it can be validated as is."""
        return {
            "file": self.path.name,
            "invoice_id": self.invoice_id,
            "invoice_issue_date": self.issue_date.isoformat(),
            "invoice_due_date": self.due_date.isoformat(),
            "issuer_name": self.issuer.name,
            "issuer_address": self.issuer.address,
            "issuer_vat_id": self.issuer.vat_id,
            "customer_name": self.customer.name,
            "customer_address": self.customer.address,
            "currency": self.currency,
            "items": [item.to_json() for item in self.items],
            "subtotal": float(self.subtotal),
            "tax_rate": float(self.tax_rate),
            "tax_amount": float(self.tax_amount),
            "total_amount": float(self.total_amount),
            "payment_terms": self.payment_terms,
            "embedded": self.embedded,
            "bad": self.bad,
            "scanned": self.scanned,
        }


# --------------------------------------------------------------------------- invoice content


def _draw_items(rng: random.Random, issuer: _Issuer) -> list[LineItem]:
    entries = rng.sample(issuer.catalogue, rng.randint(2, min(5, len(issuer.catalogue))))
    items = []
    for entry in entries:
        if entry.hourly:
            quantity = Decimal(rng.randint(2, 80)) / 2  # half hours: 1.0 .. 40.0
        else:
            quantity = Decimal(rng.choice((1, 1, 1, 2, 3, 4, 5, 6, 8, 10, 12, 20, 25)))
        unit_price = _money(Decimal(rng.randint(entry.low * 100, entry.high * 100)) / 100)
        items.append(
            LineItem(
                description=entry.description,
                quantity=quantity,
                unit=entry.unit,
                unit_code=entry.unit_code,
                unit_price=unit_price,
                total_price=_money(quantity * unit_price),
            )
        )
    return items


def _make_invoice(
    rng: random.Random,
    path: Path,
    day: date,
    invoice_id: str,
    issuer: _Issuer,
    embedded: bool,
    bad: str | None,
) -> SampleInvoice:
    """Draw one invoice's content, then apply its defect (if any) to what gets printed."""
    customer = rng.choice(_CUSTOMERS)
    issue_date = day - timedelta(days=rng.randint(0, 6))
    due_date = issue_date + timedelta(days=issuer.payment_days)
    items = _draw_items(rng, issuer)
    if bad == "line_total_mismatch":
        # A typo in one line total; the sums below are consistent with what is printed.
        wrong = items[0]
        off = _money(max(wrong.unit_price, Decimal(10)))
        items[0] = LineItem(
            wrong.description,
            wrong.quantity,
            wrong.unit,
            wrong.unit_code,
            wrong.unit_price,
            wrong.total_price + off,
        )
    subtotal = sum((item.total_price for item in items), Decimal(0))
    if bad == "subtotal_mismatch":
        # The last line was left out of the sum, as if added after the totals were typed.
        subtotal -= items[-1].total_price
    tax_amount = _money(subtotal * issuer.tax_rate)
    total_amount = subtotal + tax_amount
    if bad == "total_mismatch":
        total_amount += _money(Decimal(rng.randint(500, 9000)) / 100)
    return SampleInvoice(
        path=path,
        invoice_id=None if bad == "missing_invoice_id" else invoice_id,
        issuer=issuer.party,
        customer=customer,
        issue_date=issue_date,
        due_date=due_date,
        currency=issuer.currency,
        tax_rate=issuer.tax_rate,
        items=tuple(items),
        subtotal=subtotal,
        tax_amount=tax_amount,
        total_amount=total_amount,
        payment_terms=f"Net {issuer.payment_days} days",
        embedded=embedded,
        bad=bad,
    )


def compose_invoice(
    path: Path,
    *,
    invoice_id: str,
    issuer: Party,
    customer: Party,
    issue_date: date,
    currency: str,
    tax_rate: Decimal,
    lines: Sequence[tuple[str, Decimal, str, str, Decimal]],
    payment_days: int = 30,
    embedded: bool = True,
) -> SampleInvoice:
    """An invoice with the given lines whose amounts add up: for a set whose every value is chosen.

    ``lines`` are ``(description, quantity, unit, unit code, unit price)``; line totals, subtotal,
    tax and total are computed as :func:`generate_samples` computes them.
    """
    items = tuple(
        LineItem(description, quantity, unit, code, price, _money(quantity * price))
        for description, quantity, unit, code, price in lines
    )
    subtotal = sum((item.total_price for item in items), Decimal(0))
    tax_amount = _money(subtotal * tax_rate)
    return SampleInvoice(
        path=path,
        invoice_id=invoice_id,
        issuer=issuer,
        customer=customer,
        issue_date=issue_date,
        due_date=issue_date + timedelta(days=payment_days),
        currency=currency,
        tax_rate=tax_rate,
        items=items,
        subtotal=subtotal,
        tax_amount=tax_amount,
        total_amount=subtotal + tax_amount,
        payment_terms=f"Net {payment_days} days",
        embedded=embedded,
        bad=None,
    )


# --------------------------------------------------------------------------- Factur-X XML


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    prefix, _, local = tag.partition(":")
    namespace = {"rsm": _RSM, "ram": _RAM, "udt": _UDT, "qdt": _QDT, "ubl": _UBL, "cac": _CAC, "cbc": _CBC}[
        prefix
    ]
    element = ET.SubElement(parent, f"{{{namespace}}}{local}", attrib)
    if text is not None:
        element.text = text
    return element


def _cii_date(parent: ET.Element, tag: str, value: date) -> None:
    _sub(_sub(parent, tag), "udt:DateTimeString", value.strftime("%Y%m%d"), format="102")


def _cii_party(parent: ET.Element, tag: str, party: Party) -> None:
    element = _sub(parent, tag)
    _sub(element, "ram:Name", party.name)
    address = _sub(element, "ram:PostalTradeAddress")
    _sub(address, "ram:PostcodeCode", party.postcode)
    _sub(address, "ram:LineOne", party.street)
    _sub(address, "ram:CityName", party.city)
    _sub(address, "ram:CountryID", party.country)
    if party.vat_id:
        _sub(_sub(element, "ram:SpecifiedTaxRegistration"), "ram:ID", party.vat_id, schemeID="VA")


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _quantity(value: Decimal) -> str:
    """Quantities without trailing zeros: ``3`` and ``7.5``, as they are printed."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def build_facturx_xml(invoice: SampleInvoice) -> bytes:
    """The invoice as EN 16931 CII XML (Factur-X / ZUGFeRD 2), element order per the schema.

    It states exactly what the PDF prints, defects included, so an extractor that reads the
    XML and one that reads the text layer must agree.
    """
    percent = _quantity(invoice.tax_rate * 100)
    root = ET.Element(f"{{{_RSM}}}CrossIndustryInvoice")
    context = _sub(root, "rsm:ExchangedDocumentContext")
    _sub(_sub(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", "urn:cen.eu:en16931:2017")
    document = _sub(root, "rsm:ExchangedDocument")
    if invoice.invoice_id is not None:
        _sub(document, "ram:ID", invoice.invoice_id)
    _sub(document, "ram:TypeCode", "380")
    _cii_date(document, "ram:IssueDateTime", invoice.issue_date)

    transaction = _sub(root, "rsm:SupplyChainTradeTransaction")
    for number, item in enumerate(invoice.items, start=1):
        line = _sub(transaction, "ram:IncludedSupplyChainTradeLineItem")
        _sub(_sub(line, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(number))
        _sub(_sub(line, "ram:SpecifiedTradeProduct"), "ram:Name", item.description)
        agreement = _sub(line, "ram:SpecifiedLineTradeAgreement")
        _sub(_sub(agreement, "ram:NetPriceProductTradePrice"), "ram:ChargeAmount", _amount(item.unit_price))
        delivery = _sub(line, "ram:SpecifiedLineTradeDelivery")
        _sub(delivery, "ram:BilledQuantity", _quantity(item.quantity), unitCode=item.unit_code)
        settlement = _sub(line, "ram:SpecifiedLineTradeSettlement")
        tax = _sub(settlement, "ram:ApplicableTradeTax")
        _sub(tax, "ram:TypeCode", "VAT")
        _sub(tax, "ram:CategoryCode", "S")
        _sub(tax, "ram:RateApplicablePercent", percent)
        summation = _sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _sub(summation, "ram:LineTotalAmount", _amount(item.total_price))

    agreement = _sub(transaction, "ram:ApplicableHeaderTradeAgreement")
    _cii_party(agreement, "ram:SellerTradeParty", invoice.issuer)
    _cii_party(agreement, "ram:BuyerTradeParty", invoice.customer)
    _sub(transaction, "ram:ApplicableHeaderTradeDelivery")

    settlement = _sub(transaction, "ram:ApplicableHeaderTradeSettlement")
    _sub(settlement, "ram:InvoiceCurrencyCode", invoice.currency)
    tax = _sub(settlement, "ram:ApplicableTradeTax")
    _sub(tax, "ram:CalculatedAmount", _amount(invoice.tax_amount))
    _sub(tax, "ram:TypeCode", "VAT")
    _sub(tax, "ram:BasisAmount", _amount(invoice.subtotal))
    _sub(tax, "ram:CategoryCode", "S")
    _sub(tax, "ram:RateApplicablePercent", percent)
    terms = _sub(settlement, "ram:SpecifiedTradePaymentTerms")
    _sub(terms, "ram:Description", invoice.payment_terms)
    _cii_date(terms, "ram:DueDateDateTime", invoice.due_date)
    monetary = _sub(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    line_total = sum((item.total_price for item in invoice.items), Decimal(0))
    _sub(monetary, "ram:LineTotalAmount", _amount(line_total))
    _sub(monetary, "ram:TaxBasisTotalAmount", _amount(invoice.subtotal))
    _sub(monetary, "ram:TaxTotalAmount", _amount(invoice.tax_amount), currencyID=invoice.currency)
    _sub(monetary, "ram:GrandTotalAmount", _amount(invoice.total_amount))
    _sub(monetary, "ram:DuePayableAmount", _amount(invoice.total_amount))

    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'.encode()


# --------------------------------------------------------------------------- XRechnung UBL


def _ubl_party(parent: ET.Element, tag: str, party: Party) -> None:
    element = _sub(_sub(parent, tag), "cac:Party")
    _sub(_sub(element, "cac:PartyName"), "cbc:Name", party.name)
    address = _sub(element, "cac:PostalAddress")
    _sub(address, "cbc:StreetName", party.street)
    _sub(address, "cbc:CityName", party.city)
    _sub(address, "cbc:PostalZone", party.postcode)
    _sub(_sub(address, "cac:Country"), "cbc:IdentificationCode", party.country)
    if party.vat_id:
        scheme = _sub(element, "cac:PartyTaxScheme")
        _sub(scheme, "cbc:CompanyID", party.vat_id)
        _sub(_sub(scheme, "cac:TaxScheme"), "cbc:ID", "VAT")
    _sub(_sub(element, "cac:PartyLegalEntity"), "cbc:RegistrationName", party.name)


def build_ubl_xml(invoice: SampleInvoice) -> bytes:
    """The invoice as XRechnung UBL 2.1 XML (EN 16931), element order per the schema.

    The other e-invoice syntax a German or EU reader meets; it states exactly what the PDF prints.
    """
    percent = _quantity(invoice.tax_rate * 100)
    currency = {"currencyID": invoice.currency}
    root = ET.Element(f"{{{_UBL}}}Invoice")
    _sub(root, "cbc:CustomizationID", _XRECHNUNG)
    _sub(root, "cbc:ProfileID", "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0")
    if invoice.invoice_id is not None:
        _sub(root, "cbc:ID", invoice.invoice_id)
    _sub(root, "cbc:IssueDate", invoice.issue_date.isoformat())
    _sub(root, "cbc:DueDate", invoice.due_date.isoformat())
    _sub(root, "cbc:InvoiceTypeCode", "380")
    _sub(root, "cbc:DocumentCurrencyCode", invoice.currency)
    _ubl_party(root, "cac:AccountingSupplierParty", invoice.issuer)
    _ubl_party(root, "cac:AccountingCustomerParty", invoice.customer)
    _sub(_sub(root, "cac:PaymentTerms"), "cbc:Note", invoice.payment_terms)
    tax_total = _sub(root, "cac:TaxTotal")
    _sub(tax_total, "cbc:TaxAmount", _amount(invoice.tax_amount), **currency)
    subtotal = _sub(tax_total, "cac:TaxSubtotal")
    _sub(subtotal, "cbc:TaxableAmount", _amount(invoice.subtotal), **currency)
    _sub(subtotal, "cbc:TaxAmount", _amount(invoice.tax_amount), **currency)
    category = _sub(subtotal, "cac:TaxCategory")
    _sub(category, "cbc:ID", "S")
    _sub(category, "cbc:Percent", percent)
    _sub(_sub(category, "cac:TaxScheme"), "cbc:ID", "VAT")
    totals = _sub(root, "cac:LegalMonetaryTotal")
    line_total = sum((item.total_price for item in invoice.items), Decimal(0))
    _sub(totals, "cbc:LineExtensionAmount", _amount(line_total), **currency)
    _sub(totals, "cbc:TaxExclusiveAmount", _amount(invoice.subtotal), **currency)
    _sub(totals, "cbc:TaxInclusiveAmount", _amount(invoice.total_amount), **currency)
    _sub(totals, "cbc:PayableAmount", _amount(invoice.total_amount), **currency)
    for number, item in enumerate(invoice.items, start=1):
        line = _sub(root, "cac:InvoiceLine")
        _sub(line, "cbc:ID", str(number))
        _sub(line, "cbc:InvoicedQuantity", _quantity(item.quantity), unitCode=item.unit_code)
        _sub(line, "cbc:LineExtensionAmount", _amount(item.total_price), **currency)
        product = _sub(line, "cac:Item")
        _sub(product, "cbc:Name", item.description)
        tax = _sub(product, "cac:ClassifiedTaxCategory")
        _sub(tax, "cbc:ID", "S")
        _sub(tax, "cbc:Percent", percent)
        _sub(_sub(tax, "cac:TaxScheme"), "cbc:ID", "VAT")
        _sub(_sub(line, "cac:Price"), "cbc:PriceAmount", _amount(item.unit_price), **currency)

    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'.encode()


# Registered once so ElementTree writes the prefixes e-invoice readers expect (rsm:, ram:, cbc: ...).
for _prefix, _uri in (
    ("rsm", _RSM),
    ("ram", _RAM),
    ("udt", _UDT),
    ("qdt", _QDT),
    ("ubl", _UBL),
    ("cac", _CAC),
    ("cbc", _CBC),
):
    ET.register_namespace(_prefix, _uri)


# The Factur-X XMP properties tell readers which attachment holds the invoice and its profile.
_XMP_FACTURX = """<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:fx="urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#">
   <fx:DocumentType>INVOICE</fx:DocumentType>
   <fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>
   <fx:Version>1.0</fx:Version>
   <fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>"""


# --------------------------------------------------------------------------- PDF drawing


class _InvoicePDF(FPDF):
    """FPDF with a file identifier derived from the invoice, so output is reproducible."""

    def __init__(self, file_id: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._fixed_id = file_id

    def file_id(self) -> str:
        return f"<{self._fixed_id}><{self._fixed_id}>"


def _fmt(value: Decimal) -> str:
    return f"{value:,.2f}"


def _render_pdf(invoice: SampleInvoice, iban: str, attachment: tuple[str, bytes] | None) -> bytes:
    """The invoice drawn as a PDF; ``attachment`` (name, XML) is embedded as its e-invoice data."""
    stamp = datetime.combine(invoice.issue_date, time(9, 0), tzinfo=timezone.utc)
    key = f"{invoice.issuer.name}|{invoice.path.name}|{invoice.issue_date}|{invoice.total_amount}"
    pdf = _InvoicePDF(file_id=hashlib.md5(key.encode(), usedforsecurity=False).hexdigest().upper())
    pdf.set_creation_date(stamp)
    pdf.set_title(f"Invoice {invoice.invoice_id or ''}".strip())
    pdf.set_author(invoice.issuer.name)
    pdf.set_creator("airflow-provider-vlm demo")
    pdf.set_producer("airflow-provider-vlm demo (fpdf2)")
    pdf.set_lang("en")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(18, 18, 18)
    pdf.add_page()
    width = pdf.epw
    left = pdf.l_margin

    # Issuer block and title.
    # The title sits on a line of its own so the text layer starts "INVOICE", then the issuer.
    pdf.set_font("Helvetica", "B", 20)
    pdf.cell(width, 9, "INVOICE", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(width, 8, invoice.issuer.name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for line in (
        invoice.issuer.street,
        f"{invoice.issuer.postcode} {invoice.issuer.city}, {invoice.issuer.country}",
        f"VAT ID: {invoice.issuer.vat_id}",
    ):
        pdf.cell(width, 4.5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)

    # Bill-to block on the left, invoice facts on the right.
    top = pdf.get_y()
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(width * 0.5, 5, "Bill to", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for line in (
        invoice.customer.name,
        invoice.customer.street,
        f"{invoice.customer.postcode} {invoice.customer.city}, {invoice.customer.country}",
        f"VAT ID: {invoice.customer.vat_id}",
    ):
        pdf.cell(width * 0.5, 5, line, new_x="LMARGIN", new_y="NEXT")
    bottom = pdf.get_y()
    facts = [
        ("Invoice number", invoice.invoice_id or ""),
        ("Issue date", invoice.issue_date.isoformat()),
        ("Due date", invoice.due_date.isoformat()),
        ("Currency", invoice.currency),
    ]
    pdf.set_y(top)
    for label, value in facts:
        if not value:
            continue  # a missing invoice number is simply not printed
        pdf.set_x(left + width * 0.55)
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(width * 0.2, 5, f"{label}:")
        pdf.set_font("Helvetica", "", 10)
        pdf.cell(width * 0.25, 5, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(bottom, pdf.get_y()) + 8)

    # Line items table.
    columns: tuple[tuple[str, float, str], ...] = (
        ("#", 0.06, "L"),
        ("Description", 0.46, "L"),
        ("Qty", 0.12, "R"),
        ("Unit price", 0.17, "R"),
        ("Line total", 0.19, "R"),
    )
    pdf.set_font("Helvetica", "B", 9)
    pdf.set_fill_color(230, 234, 240)
    for title, share, align in columns:
        pdf.cell(width * share, 7, title, border="B", align=align, fill=True)
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    for number, item in enumerate(invoice.items, start=1):
        cells = (
            str(number),
            item.description,
            f"{_quantity(item.quantity)} {item.unit}",
            _fmt(item.unit_price),
            _fmt(item.total_price),
        )
        for text, (_, share, align) in zip(cells, columns, strict=True):
            pdf.cell(width * share, 6.5, text, border="B", align=align)
        pdf.ln()
    pdf.ln(4)

    # Totals.
    percent = _quantity(invoice.tax_rate * 100)
    totals = (
        ("Subtotal", invoice.subtotal, False),
        (f"VAT {percent}%", invoice.tax_amount, False),
        (f"Total due ({invoice.currency})", invoice.total_amount, True),
    )
    for label, amount, strong in totals:
        pdf.set_x(left + width * 0.5)
        pdf.set_font("Helvetica", "B" if strong else "", 11 if strong else 10)
        pdf.cell(width * 0.3, 6.5, label, border="T" if strong else "")
        pdf.cell(
            width * 0.2,
            6.5,
            f"{_fmt(amount)} {invoice.currency}",
            border="T" if strong else "",
            align="R",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.ln(10)

    # Payment terms and footer.
    pdf.set_font("Helvetica", "", 9)
    reference = invoice.invoice_id or f"{invoice.customer.name}, {invoice.issue_date.isoformat()}"
    pdf.multi_cell(
        width,
        4.5,
        f"Payment terms: {invoice.payment_terms}. Please pay {_fmt(invoice.total_amount)} "
        f"{invoice.currency} by {invoice.due_date.isoformat()} to IBAN {iban}, quoting {reference}.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    if attachment is not None:
        kind = "a Factur-X invoice" if attachment[0] == FACTURX_FILENAME else "an e-invoice"
        pdf.ln(2)
        pdf.multi_cell(
            width,
            4.5,
            f"This document is {kind}: its data is attached as {attachment[0]}.",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.set_y(-25)
    pdf.set_font("Helvetica", "I", 7)
    pdf.set_text_color(120, 120, 120)
    pdf.cell(
        width, 4, "Sample invoice generated for the airflow-provider-vlm demo. All companies are fictional."
    )

    if attachment is not None:
        name, xml = attachment
        pdf.embed_file(
            bytes=xml,
            basename=name,
            mime_type="text/xml",
            desc="Factur-X invoice data (EN 16931)"
            if name == FACTURX_FILENAME
            else "Invoice data (EN 16931)",
            modification_date=stamp,
            creation_date=stamp,
            associated_file_relationship="Data",
        )
        if name == FACTURX_FILENAME:
            pdf.set_xmp_metadata(_XMP_FACTURX)
    return bytes(pdf.output())


def write_invoice(
    invoice: SampleInvoice,
    iban: str = "DE02 1001 0010 0123 4567 89",
    attachment: tuple[str, bytes] | None = None,
) -> Path:
    """Draw ``invoice`` to ``invoice.path``; embed ``attachment`` (name, XML bytes) if given.

    ``None`` embeds the Factur-X XML when ``invoice.embedded`` and nothing otherwise; pass
    ``(UBL_FILENAME, build_ubl_xml(invoice))`` for an XRechnung, or deliberately broken bytes.
    """
    if attachment is None and invoice.embedded:
        attachment = (FACTURX_FILENAME, build_facturx_xml(invoice))
    invoice.path.parent.mkdir(parents=True, exist_ok=True)
    invoice.path.write_bytes(_render_pdf(invoice, iban, attachment))
    return invoice.path


# --------------------------------------------------------------------------- public API


def _pick_bad(rng: random.Random, count: int, bad: int) -> dict[int, str]:
    """Spread the defective invoices over the batch, one kind after another."""
    positions = sorted(rng.sample(range(count), bad))
    return {position: BAD_KINDS[n % len(BAD_KINDS)] for n, position in enumerate(positions)}


def _scan_over(path: Path, rng: random.Random) -> None:
    """Replace the PDF at ``path`` by a scan of it: skewed 1-2 degrees either way, speckled."""
    from vlm_demo.scans import ScanStyle, scan_pdf  # pypdfium2 and Pillow only when scans are asked for

    angle = rng.uniform(1.0, 2.0) * rng.choice((-1, 1))
    scan_pdf(path, path, ScanStyle(angle=round(angle, 2)), seed=rng.randrange(2**31))


def generate_samples(
    out_dir: Path,
    count: int = 12,
    seed: int = 2026,
    day: date | None = None,
    embed_every: int = 2,
    bad: int = 2,
    scanned: int = 0,
) -> list[SampleInvoice]:
    """Write ``count`` invoices of ``day`` (default: today) to ``out_dir/<day>/`` plus a manifest.

    ``embed_every=n`` attaches Factur-X XML to invoices 1, 1+n, 1+2n, ... (0 disables it);
    ``bad`` invoices get one defect each from :data:`BAD_KINDS`. The random stream depends on
    seed and day only, so a nightly demo sees new invoices every day and a test sees the same
    bytes every time. Stale ``INV-<day>-NNN.pdf`` files from a larger earlier run are removed
    so the folder always matches its manifest. ``scanned`` plain invoices (neither e-invoice nor
    defective) are written as scans instead; they are picked from a stream of their own, so the
    other invoices are the same with or without them.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if not 0 <= bad <= count:
        raise ValueError(f"bad must be between 0 and count ({count}), got {bad}")
    if embed_every < 0:
        raise ValueError(f"embed_every must be 0 (never) or positive, got {embed_every}")
    day = day or date.today()
    rng = random.Random(f"airflow-provider-vlm-demo:{seed}:{day.isoformat()}")
    folder = Path(out_dir) / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)

    defects = _pick_bad(rng, count, bad)
    plain = [i for i in range(count) if not (embed_every > 0 and i % embed_every == 0) and i not in defects]
    if not 0 <= scanned <= len(plain):
        raise ValueError(
            f"scanned must be between 0 and the number of plain invoices ({len(plain)}), got {scanned}"
        )
    scan_rng = random.Random(f"airflow-provider-vlm-demo:{seed}:{day.isoformat()}:scans")
    scans = set(scan_rng.sample(plain, scanned))
    # A shuffled deck rather than independent draws: every issuer shows up in a batch of a
    # dozen, in proportion to its weight, which keeps the per-issuer summary interesting.
    deck = [issuer for issuer in _ISSUERS for _ in range(issuer.weight)]
    rng.shuffle(deck)
    numbers: dict[str, int] = {issuer.prefix: rng.randint(100, 800) for issuer in _ISSUERS}
    invoices: list[SampleInvoice] = []
    for index in range(count):
        issuer = deck[index % len(deck)]
        numbers[issuer.prefix] += rng.randint(1, 9)
        invoice_id = f"{issuer.prefix}-{day.year}-{numbers[issuer.prefix]:05d}"
        path = folder / f"INV-{day:%Y%m%d}-{index + 1:03d}.pdf"
        embedded = embed_every > 0 and index % embed_every == 0
        invoice = _make_invoice(rng, path, day, invoice_id, issuer, embedded, defects.get(index))
        write_invoice(invoice, issuer.iban)
        if index in scans:
            invoice = dataclasses.replace(invoice, scanned=True)
            _scan_over(invoice.path, scan_rng)
        invoices.append(invoice)

    pattern = re.compile(rf"INV-{day:%Y%m%d}-\d{{3}}\.pdf")
    written = {invoice.path.name for invoice in invoices}
    for stale in folder.glob(f"INV-{day:%Y%m%d}-*.pdf"):
        if pattern.fullmatch(stale.name) and stale.name not in written:
            stale.unlink()

    manifest = {
        "day": day.isoformat(),
        "seed": seed,
        "count": count,
        "invoices": [invoice.to_manifest() for invoice in invoices],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return invoices


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m vlm_demo.samples OUT_DIR [options]``."""
    parser = argparse.ArgumentParser(
        prog="python -m vlm_demo.samples",
        description="Generate seeded sample invoices (PDF, some with Factur-X XML) for the demo.",
    )
    parser.add_argument("out_dir", type=Path, help="folder to write <day>/INV-*.pdf and manifest.json into")
    parser.add_argument("--count", type=int, default=12, help="number of invoices (default 12)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument("--day", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default today)")
    parser.add_argument(
        "--embed-every", type=int, default=2, help="attach Factur-X XML to every n-th invoice (0: none)"
    )
    parser.add_argument("--bad", type=int, default=2, help="number of deliberately defective invoices")
    parser.add_argument(
        "--scanned", type=int, default=0, help="number of plain invoices written as scans (image-only PDF)"
    )
    args = parser.parse_args(argv)
    try:
        invoices = generate_samples(
            args.out_dir,
            count=args.count,
            seed=args.seed,
            day=args.day,
            embed_every=args.embed_every,
            bad=args.bad,
            scanned=args.scanned,
        )
    except ValueError as error:
        parser.error(str(error))
    for invoice in invoices:
        flags = ", ".join(
            flag
            for flag in (
                "factur-x" if invoice.embedded else "",
                f"bad: {invoice.bad}" if invoice.bad else "",
                "scan" if invoice.scanned else "",
            )
            if flag
        )
        print(
            f"{invoice.path.name}  {invoice.invoice_id or '(no id)':<15} {invoice.issuer.name:<26} "
            f"{_fmt(invoice.total_amount):>12} {invoice.currency}" + (f"  [{flags}]" if flags else "")
        )
    print(f"wrote {len(invoices)} invoices and manifest.json to {invoices[0].path.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
