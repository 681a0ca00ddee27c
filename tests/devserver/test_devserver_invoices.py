"""The invoice engine against the real invoices in ``../shared/data/invoices`` (never copied here).

They are an extra: without them this module skips, and ``test_devserver_generated_invoices.py``
proves the same paths on the suite's generated invoices.

Expected values are read from each PDF's embedded XML independently of the engine (pypdf plus
ElementTree's ``{*}`` wildcards), so the test checks the mapping, not itself.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from devserver_helpers import upload
from pypdf import PdfReader

from tests.invoices import REAL_INVOICES as INVOICES
from tests.invoices import needs_real_invoices

CORRECT = sorted((INVOICES / "zugferd" / "correct").glob("*.pdf"))
FAIL = sorted((INVOICES / "zugferd" / "fail").glob("*.pdf"))
TEXT_LAYER = sorted((INVOICES / "invoice2data").glob("*.pdf"))
# invoice2data files whose text layer labels the invoice number (QualityHosting's does not:
# its "invoice_number" in the JSON is printed next to "Kundennr.", with no invoice-number label).
ID_IN_TEXT = {"AmazonWebServices", "AzureInterior", "FlipkartInvoice", "coolblue1", "oyo"}

pytestmark = needs_real_invoices


@pytest.fixture(scope="module")
def fast(start_devserver: Any) -> Iterator[httpx.Client]:
    """A private server that answers at once (processing time 0): 90 extractions in seconds."""
    with start_devserver("--processing-time", "0", "--api-key", "inv") as server, server.client() as client:
        yield client


def _extract(client: httpx.Client, path: Path) -> dict[str, Any]:
    file_id = upload(client, path.read_bytes(), path.name)["id"]
    response = client.post("/document/generate", json={"file_id": file_id, "domain": "document.invoice"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _embedded_xml(path: Path) -> ET.Element:
    attachments = PdfReader(io.BytesIO(path.read_bytes())).attachments
    for name in ("factur-x.xml", "xrechnung.xml", "zugferd-invoice.xml", "ZUGFeRD-invoice.xml"):
        if name in attachments:
            return ET.fromstring(attachments[name][0])
    raise AssertionError(f"no invoice XML in {path.name}: {list(attachments)}")


def _expected(root: ET.Element) -> tuple[str, str, float]:
    doc = root.find("{*}ExchangedDocument")
    if doc is None:
        doc = root.find("{*}HeaderExchangedDocument")
    assert doc is not None
    invoice_id = doc.findtext("{*}ID", "").strip()
    raw_date = doc.findtext("{*}IssueDateTime/{*}DateTimeString", "").strip()
    issue = f"{raw_date[:4]}-{raw_date[4:6]}-{raw_date[6:8]}"
    grand = root.find(".//{*}GrandTotalAmount")
    assert grand is not None and grand.text
    return invoice_id, issue, float(Decimal(grand.text.strip()))


@pytest.mark.parametrize("path", CORRECT, ids=lambda p: p.name[-60:])
def test_correct_einvoices_are_exact(fast: httpx.Client, path: Path) -> None:
    invoice_id, issue, total = _expected(_embedded_xml(path))
    body = _extract(fast, path)
    assert body["status"] == "completed", body.get("message")
    result = body["response"]
    assert result["invoice_id"] == invoice_id
    assert result["invoice_issue_date"] == issue
    assert result["total_amount"] == total
    assert result["_devserver"]["engine"] == "invoice-xml"
    assert result["currency"]
    assert result["issuer_name"]
    assert body["usage"]["element_type"] == "page"
    assert body["usage"]["elements_processed"] == len(PdfReader(io.BytesIO(path.read_bytes())).pages)


def test_line_items_and_parties(fast: httpx.Client) -> None:
    path = next(p for p in CORRECT if p.name.endswith("zugferd_2p1_EN16931_Einfach.pdf"))
    root = _embedded_xml(path)
    result = _extract(fast, path)["response"]
    lines = root.findall(".//{*}IncludedSupplyChainTradeLineItem")
    assert len(result["items"]) == len(lines) > 0
    for item, line in zip(result["items"], lines, strict=True):
        assert item["description"] == line.findtext(".//{*}SpecifiedTradeProduct/{*}Name", "").strip()
        assert item["total_price"] == float(Decimal(line.findtext(".//{*}LineTotalAmount", "")))
        assert item["quantity"] == float(Decimal(line.findtext(".//{*}BilledQuantity", "")))
    seller = root.find(".//{*}SellerTradeParty")
    buyer = root.find(".//{*}BuyerTradeParty")
    assert seller is not None and buyer is not None
    assert result["issuer_name"] == seller.findtext("{*}Name")
    assert result["customer_name"] == buyer.findtext("{*}Name")
    assert result["issuer_address"]["city"] == seller.findtext("{*}PostalTradeAddress/{*}CityName")
    assert result["customer_billing_address"]["postal_code"] == buyer.findtext(
        "{*}PostalTradeAddress/{*}PostcodeCode"
    )
    assert result["issuer_vat_id"] == seller.findtext("{*}SpecifiedTaxRegistration/{*}ID[@schemeID='VA']")
    summation = root.find(".//{*}SpecifiedTradeSettlementHeaderMonetarySummation")
    assert summation is not None
    assert result["subtotal"] == float(Decimal(summation.findtext("{*}LineTotalAmount", "")))
    assert result["balance_due"] == float(Decimal(summation.findtext("{*}DuePayableAmount", "")))


def test_bare_xml_upload(fast: httpx.Client) -> None:
    path = CORRECT[0]
    xml = PdfReader(io.BytesIO(path.read_bytes())).attachments["factur-x.xml"][0]
    file_id = upload(fast, xml, "factur-x.xml")["id"]
    body = fast.post("/document/generate", json={"file_id": file_id, "domain": "document.invoice"}).json()
    assert body["response"]["invoice_id"] == _expected(ET.fromstring(xml))[0]


@pytest.mark.parametrize("path", FAIL, ids=lambda p: p.name[-60:])
def test_invalid_einvoices_fail_or_give_a_partial_result(fast: httpx.Client, path: Path) -> None:
    body = _extract(fast, path)
    assert body["status"] in ("completed", "failed")
    if body["status"] == "failed":
        assert body["message"]
        assert body["response"] is None
    else:
        assert isinstance(body["response"], dict)
        assert "invoice_id" in body["response"]


def test_broken_embedded_xml_is_a_failed_prediction(fast: httpx.Client) -> None:
    path = next(p for p in FAIL if "invalid-xml-encoding" in p.name)
    body = _extract(fast, path)
    assert body["status"] == "failed"
    assert "XML" in body["message"]


def _normalise_id(value: str | None) -> str:
    return (value or "").lstrip("#").replace(" ", "")


@pytest.mark.parametrize("path", TEXT_LAYER, ids=lambda p: p.stem)
def test_text_layer_invoices(fast: httpx.Client, path: Path) -> None:
    expected = json.loads(path.with_suffix(".json").read_text())[0]
    body = _extract(fast, path)
    assert body["status"] == "completed"
    result = body["response"]
    assert result["total_amount"] == pytest.approx(expected["amount"])
    assert result["invoice_issue_date"] == expected["date"]
    assert result["currency"] == expected["currency"]
    if path.stem in ID_IN_TEXT:
        assert _normalise_id(result["invoice_id"]) == _normalise_id(expected["invoice_number"])
    else:
        assert result["invoice_id"] is None  # a partial result, not a guess
