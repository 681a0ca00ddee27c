"""The invoice engine on the suite's generated invoices: every path, exact fields, no outside data.

Factur-X (CII) and XRechnung (UBL) e-invoices must come back exactly as the generator wrote them
(ids, dates, parties, addresses, line items, amounts, in EUR, GBP and USD); text-only PDFs give
what their printed page states; broken files are failed predictions naming what is wrong.
``test_devserver_invoices.py`` runs the same checks on the real public corpus when it is present.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from devserver_helpers import upload
from pypdf import PdfReader

from tests.invoices import PRIMARY_ID, PRIMARY_TOTAL, InvoiceSet, generated, text_fields, xml_fields

SET = generated()


@pytest.fixture(scope="module")
def fast(start_devserver: Any) -> Iterator[httpx.Client]:
    """A private server that answers at once (processing time 0)."""
    with start_devserver("--processing-time", "0", "--api-key", "gen") as server, server.client() as client:
        yield client


def _extract(client: httpx.Client, content: bytes, name: str) -> dict[str, Any]:
    file_id = upload(client, content, name)["id"]
    response = client.post("/document/generate", json={"file_id": file_id, "domain": "document.invoice"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("invoice", SET.einvoices, ids=lambda i: i.path.name)
def test_einvoices_are_exact(fast: httpx.Client, invoice: Any) -> None:
    body = _extract(fast, invoice.path.read_bytes(), invoice.path.name)
    assert body["status"] == "completed", body.get("message")
    result = body["response"]
    expected = xml_fields(invoice)
    assert {key: result[key] for key in expected} == expected
    attachment = "xrechnung.xml" if invoice is SET.xrechnung else "factur-x.xml"
    assert result["_devserver"]["engine"] == "invoice-xml"
    assert result["_devserver"]["source"] == attachment
    assert body["usage"]["element_type"] == "page" and body["usage"]["elements_processed"] == 1


def test_the_set_spans_syntaxes_and_currencies(invoice_set: InvoiceSet) -> None:
    """What the tests above cover: both XML syntaxes, three currencies, no duplicate numbers."""
    primary = invoice_set.primary
    assert (
        (primary.invoice_id, float(primary.total_amount)) == (PRIMARY_ID, PRIMARY_TOTAL) == ("471102", 529.87)
    )
    names = set()
    for invoice in invoice_set.einvoices:
        names.update(PdfReader(invoice.path).attachments)
    assert names == {"factur-x.xml", "xrechnung.xml"}
    assert {i.currency for i in invoice_set.good} == {"EUR", "GBP", "USD"}
    ids = [i.invoice_id for i in invoice_set.good]
    assert len(set(ids)) == len(ids) and all(ids)


def test_bare_ubl_upload(fast: httpx.Client) -> None:
    xml = PdfReader(SET.xrechnung.path).attachments["xrechnung.xml"][0]
    result = _extract(fast, xml, "xrechnung.xml")["response"]
    expected = xml_fields(SET.xrechnung)
    assert {key: result[key] for key in expected} == expected


@pytest.mark.parametrize("invoice", SET.text_only, ids=lambda i: i.path.name)
def test_text_only_invoices(fast: httpx.Client, invoice: Any) -> None:
    assert PdfReader(invoice.path).attachments == {}
    body = _extract(fast, invoice.path.read_bytes(), invoice.path.name)
    assert body["status"] == "completed", body.get("message")
    result = body["response"]
    expected = text_fields(invoice)
    assert {key: result[key] for key in expected} == expected
    assert result["_devserver"]["engine"] == "invoice-text"
    assert result["items"] is None  # not read from text: null, never a guess


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("broken_xml", "the embedded invoice XML is broken"),
        ("truncated", "the PDF cannot be read"),
        ("not_pdf", "the file is not a PDF"),
        ("empty", "the file is not a PDF"),
    ],
)
def test_broken_files_are_failed_predictions(fast: httpx.Client, kind: str, message: str) -> None:
    path: Path = getattr(SET, kind)
    body = _extract(fast, path.read_bytes(), path.name)
    assert body["status"] == "failed" and body["response"] is None
    assert body["message"].startswith(message), body["message"]


def test_the_invoice_image_is_a_png(invoice_set: InvoiceSet) -> None:
    from PIL import Image

    with Image.open(io.BytesIO(invoice_set.image.read_bytes())) as image:
        assert image.format == "PNG" and image.size == (600, 400)
