"""Map an e-invoice XML (UN/CEFACT CII as in ZUGFeRD 1/2, Factur-X, XRechnung; or OASIS UBL) to
the ``document.invoice`` fields, exactly: ids and names as written, dates as ISO, amounts as numbers.

Elements are found by local name, so every namespace prefix and version of a syntax reads alike.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from .base import EngineError

Element = ET.Element

# Preferred names of the invoice attachment, most specific first (a PDF may carry both 1 and 2).
ATTACHMENT_NAMES = ("factur-x.xml", "xrechnung.xml", "zugferd-invoice.xml", "ZUGFeRD-invoice.xml")


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def child(el: Element | None, name: str) -> Element | None:
    if el is None:
        return None
    for c in el:
        if local(c.tag) == name:
            return c
    return None


def children(el: Element | None, name: str) -> list[Element]:
    return [] if el is None else [c for c in el if local(c.tag) == name]


def at(el: Element | None, path: str) -> Element | None:
    """Follow a ``/``-separated path of local names."""
    for name in path.split("/"):
        el = child(el, name)
    return el


def text(el: Element | None, *paths: str) -> str | None:
    """Stripped text of the first path that has some."""
    for path in paths:
        node = at(el, path) if path else el
        if node is not None and node.text and node.text.strip():
            return node.text.strip()
    return None


def number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(Decimal(value))
    except InvalidOperation:
        return None


def cii_date(el: Element | None) -> str | None:
    """``DateTimeString`` in format 102 (YYYYMMDD) or already ISO, as ``YYYY-MM-DD``."""
    node = child(el, "DateTimeString") if el is not None else None
    value = node.text.strip() if node is not None and node.text else None
    if not value:
        return None
    digits = value.replace("-", "")
    if len(digits) == 8 and digits.isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    return value


def parse(xml: bytes) -> Element:
    """The XML's root, or EngineError for broken XML."""
    try:
        return ET.fromstring(xml)
    except (ET.ParseError, ValueError, LookupError) as exc:
        raise EngineError(f"the embedded invoice XML is broken: {exc}") from exc


def syntax(root: Element) -> str | None:
    """``cii``, ``zugferd1`` or ``ubl`` for a known invoice root, else None."""
    name = local(root.tag)
    if name == "CrossIndustryInvoice":
        return "cii"
    if name == "CrossIndustryDocument":
        return "zugferd1"
    if name in ("Invoice", "CreditNote"):
        return "ubl"
    return None


def map_invoice(root: Element) -> dict[str, Any]:
    """The invoice fields found in ``root`` (only those present; the caller fills the rest with null)."""
    kind = syntax(root)
    if kind == "ubl":
        return _ubl(root)
    if kind in ("cii", "zugferd1"):
        return _cii(root, zugferd1=kind == "zugferd1")
    raise EngineError(f"the XML is not an invoice this server knows (root element {local(root.tag)!r})")


# --- UN/CEFACT Cross Industry Invoice -------------------------------------------------------


def _cii(root: Element, zugferd1: bool) -> dict[str, Any]:
    if zugferd1:
        doc = child(root, "HeaderExchangedDocument")
        tx = child(root, "SpecifiedSupplyChainTradeTransaction")
        agreement = child(tx, "ApplicableSupplyChainTradeAgreement")
        settlement = child(tx, "ApplicableSupplyChainTradeSettlement")
        delivery = child(tx, "ApplicableSupplyChainTradeDelivery")
        summation = child(settlement, "SpecifiedTradeSettlementMonetarySummation")
    else:
        doc = child(root, "ExchangedDocument")
        tx = child(root, "SupplyChainTradeTransaction")
        agreement = child(tx, "ApplicableHeaderTradeAgreement")
        settlement = child(tx, "ApplicableHeaderTradeSettlement")
        delivery = child(tx, "ApplicableHeaderTradeDelivery")
        summation = child(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    if doc is None:
        raise EngineError("the invoice XML has no ExchangedDocument (no invoice id or date)")
    seller = child(agreement, "SellerTradeParty")
    buyer = child(agreement, "BuyerTradeParty")
    currency = text(settlement, "InvoiceCurrencyCode")
    terms = child(settlement, "SpecifiedTradePaymentTerms")
    taxes = children(settlement, "ApplicableTradeTax")
    out: dict[str, Any] = {
        "invoice_id": text(doc, "ID"),
        "invoice_issue_date": cii_date(child(doc, "IssueDateTime")),
        "invoice_due_date": cii_date(at(terms, "DueDateDateTime")),
        "period_start": cii_date(at(settlement, "BillingSpecifiedPeriod/StartDateTime")),
        "period_end": cii_date(at(settlement, "BillingSpecifiedPeriod/EndDateTime")),
        "order_id": text(agreement, "BuyerOrderReferencedDocument/IssuerAssignedID"),
        "customer_id": text(buyer, "ID"),
        "issuer_name": text(seller, "Name"),
        "issuer_address": _cii_address(child(seller, "PostalTradeAddress")),
        "issuer_email": _cii_email(seller),
        "issuer_phone": text(seller, "DefinedTradeContact/TelephoneUniversalCommunication/CompleteNumber"),
        "issuer_vat_id": _cii_tax_id(seller),
        "customer_name": text(buyer, "Name"),
        "customer_email": _cii_email(buyer),
        "customer_phone": text(buyer, "DefinedTradeContact/TelephoneUniversalCommunication/CompleteNumber"),
        "customer_billing_address": _cii_address(child(buyer, "PostalTradeAddress")),
        "customer_shipping_address": _cii_address(at(delivery, "ShipToTradeParty/PostalTradeAddress")),
        "customer_vat_id": _cii_tax_id(buyer),
        "items": [_cii_item(line, zugferd1) for line in children(tx, "IncludedSupplyChainTradeLineItem")],
        "currency": currency,
        "subtotal": number(text(summation, "LineTotalAmount")),
        "discount_amount": number(text(summation, "AllowanceTotalAmount")),
        "tax_amount": _amount_in(children(summation, "TaxTotalAmount"), currency),
        "tax_percentage": number(text(taxes[0], "RateApplicablePercent", "ApplicablePercent"))
        if len(taxes) == 1
        else None,
        "total_amount": number(text(summation, "GrandTotalAmount")),
        "amount_paid": number(text(summation, "TotalPrepaidAmount")),
        "balance_due": number(text(summation, "DuePayableAmount")),
        "payment_terms": text(terms, "Description"),
        "bank_details": _cii_bank(child(settlement, "SpecifiedTradeSettlementPaymentMeans")),
        "notes": _join(text(note, "Content") for note in children(doc, "IncludedNote")),
    }
    return out


def _cii_address(addr: Element | None) -> dict[str, Any] | None:
    if addr is None:
        return None
    return {
        "street": _join((text(addr, name) for name in ("LineOne", "LineTwo", "LineThree")), ", "),
        "city": text(addr, "CityName"),
        "state": text(addr, "CountrySubDivisionName"),
        "postal_code": text(addr, "PostcodeCode"),
        "country": text(addr, "CountryID"),
    }


def _cii_tax_id(party: Element | None) -> str | None:
    registrations = children(party, "SpecifiedTaxRegistration")
    for reg in registrations:
        node = child(reg, "ID")
        if node is not None and node.get("schemeID") == "VA" and node.text:
            return node.text.strip()
    for reg in registrations:
        value = text(reg, "ID")
        if value:
            return value
    return None


def _cii_email(party: Element | None) -> str | None:
    return text(
        party,
        "DefinedTradeContact/EmailURIUniversalCommunication/URIID",
        "URIUniversalCommunication/URIID",
    )


def _cii_item(line: Element, zugferd1: bool) -> dict[str, Any]:
    prefix = "SpecifiedSupplyChainTrade" if zugferd1 else "SpecifiedLineTrade"
    agreement = child(line, prefix + "Agreement")
    settlement = child(line, prefix + "Settlement")
    summation_name = (
        "SpecifiedTradeSettlementMonetarySummation"
        if zugferd1
        else ("SpecifiedTradeSettlementLineMonetarySummation")
    )
    rate = text(
        settlement, "ApplicableTradeTax/RateApplicablePercent", "ApplicableTradeTax/ApplicablePercent"
    )
    return {
        "description": text(line, "SpecifiedTradeProduct/Name"),
        "quantity": number(text(line, prefix + "Delivery/BilledQuantity")),
        "unit_price": number(
            text(
                agreement,
                "NetPriceProductTradePrice/ChargeAmount",
                "GrossPriceProductTradePrice/ChargeAmount",
            )
        ),
        "total_price": number(text(settlement, summation_name + "/LineTotalAmount")),
        "currency": None,
        "item_tax_details": f"VAT {rate}%" if rate else None,
        "item_adjustment_details": None,
    }


def _cii_bank(means: Element | None) -> dict[str, Any] | None:
    if means is None:
        return None
    account = child(means, "PayeePartyCreditorFinancialAccount")
    if account is None:
        return None
    return {
        "bank_name": None,
        "account_holder_name": text(account, "AccountName"),
        "account_number": text(account, "ProprietaryID"),
        "routing_number": None,
        "bsb_number": None,
        "iban": text(account, "IBANID"),
        "swift_bic": text(means, "PayeeSpecifiedCreditorFinancialInstitution/BICID"),
    }


def _amount_in(nodes: list[Element], currency: str | None) -> float | None:
    """The amount in the invoice currency when several currencies are given."""
    for node in nodes:
        if currency and node.get("currencyID") == currency and node.text:
            return number(node.text.strip())
    return number(nodes[0].text.strip()) if nodes and nodes[0].text else None


def _join(parts: Iterable[str | None], sep: str = "\n") -> str | None:
    kept = [p for p in parts if p]
    return sep.join(kept) if kept else None


# --- OASIS UBL ------------------------------------------------------------------------------


def _ubl(root: Element) -> dict[str, Any]:
    credit = local(root.tag) == "CreditNote"
    line_name, qty_name = (
        ("CreditNoteLine", "CreditedQuantity") if credit else ("InvoiceLine", "InvoicedQuantity")
    )
    supplier = at(root, "AccountingSupplierParty/Party")
    customer = at(root, "AccountingCustomerParty/Party")
    totals = child(root, "LegalMonetaryTotal")
    currency = text(root, "DocumentCurrencyCode")
    return {
        "invoice_id": text(root, "ID"),
        "invoice_issue_date": text(root, "IssueDate"),
        "invoice_due_date": text(root, "DueDate", "PaymentMeans/PaymentDueDate"),
        "period_start": text(root, "InvoicePeriod/StartDate"),
        "period_end": text(root, "InvoicePeriod/EndDate"),
        "order_id": text(root, "OrderReference/ID"),
        "customer_id": text(customer, "PartyIdentification/ID"),
        "issuer_name": text(supplier, "PartyLegalEntity/RegistrationName", "PartyName/Name"),
        "issuer_address": _ubl_address(child(supplier, "PostalAddress")),
        "issuer_email": text(supplier, "Contact/ElectronicMail"),
        "issuer_phone": text(supplier, "Contact/Telephone"),
        "issuer_vat_id": text(supplier, "PartyTaxScheme/CompanyID"),
        "customer_name": text(customer, "PartyLegalEntity/RegistrationName", "PartyName/Name"),
        "customer_email": text(customer, "Contact/ElectronicMail"),
        "customer_phone": text(customer, "Contact/Telephone"),
        "customer_billing_address": _ubl_address(child(customer, "PostalAddress")),
        "customer_shipping_address": _ubl_address(at(root, "Delivery/DeliveryLocation/Address")),
        "customer_vat_id": text(customer, "PartyTaxScheme/CompanyID"),
        "items": [_ubl_item(line, qty_name) for line in children(root, line_name)],
        "currency": currency,
        "subtotal": number(text(totals, "LineExtensionAmount")),
        "discount_amount": number(text(totals, "AllowanceTotalAmount")),
        "tax_amount": _amount_in(
            [t for tt in children(root, "TaxTotal") for t in children(tt, "TaxAmount")], currency
        ),
        "total_amount": number(text(totals, "TaxInclusiveAmount")),
        "amount_paid": number(text(totals, "PrepaidAmount")),
        "balance_due": number(text(totals, "PayableAmount")),
        "payment_terms": text(root, "PaymentTerms/Note"),
        "notes": _join(n.text.strip() for n in children(root, "Note") if n.text),
    }


def _ubl_address(addr: Element | None) -> dict[str, Any] | None:
    if addr is None:
        return None
    return {
        "street": _join((text(addr, "StreetName"), text(addr, "AdditionalStreetName")), ", "),
        "city": text(addr, "CityName"),
        "state": text(addr, "CountrySubentity"),
        "postal_code": text(addr, "PostalZone"),
        "country": text(addr, "Country/IdentificationCode"),
    }


def _ubl_item(line: Element, qty_name: str) -> dict[str, Any]:
    rate = text(line, "Item/ClassifiedTaxCategory/Percent")
    return {
        "description": text(line, "Item/Name", "Item/Description"),
        "quantity": number(text(line, qty_name)),
        "unit_price": number(text(line, "Price/PriceAmount")),
        "total_price": number(text(line, "LineExtensionAmount")),
        "currency": None,
        "item_tax_details": f"VAT {rate}%" if rate else None,
        "item_adjustment_details": None,
    }
