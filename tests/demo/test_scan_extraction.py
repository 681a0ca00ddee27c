"""The project's own scans through the dev server: the fields pinned, and honest confidence.

A night of generated invoices with three of them scanned (image-only PDFs, skewed, speckled),
plus PNG scans of the same three: the dev server reads each through OCR and must return the
invoice id, issue date and total that were printed. Their confidence must sit below the nightly
DAG's floor, so the DAG routes them to review, while the same invoices as e-invoices pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_vlm.client import VlmClient
from airflow_provider_vlm.invoices import check_invoice
from tests.conftest import DevServerHandle
from vlm_demo.samples import SampleInvoice, generate_samples
from vlm_demo.scans import ScanStyle, has_text_layer, scan_pdf

DAY = date(2026, 11, 20)
DOMAIN = "document.invoice"
#: The nightly DAG's default ``min_confidence`` (``vlm_nightly_invoices.MIN_CONFIDENCE``).
FLOOR = 0.6
SCORED = ("invoice_id", "invoice_issue_date", "total_amount")
OCR_ENGINE = "invoice-ocr"


@dataclass(frozen=True)
class Scans:
    invoices: list[SampleInvoice]  # the scanned ones, as the generator printed them
    pngs: dict[str, Path]  # invoice id -> PNG scan of the same invoice drawn as text PDF
    e_invoices: list[SampleInvoice]


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Scans:
    night = generate_samples(tmp_path_factory.mktemp("night"), day=DAY, scanned=3)
    plain = generate_samples(tmp_path_factory.mktemp("plain"), day=DAY)
    scanned = [invoice for invoice in night if invoice.scanned]
    assert len(scanned) == 3 and not any(has_text_layer(invoice.path) for invoice in scanned)
    folder = tmp_path_factory.mktemp("png")
    pngs = {}
    for number, invoice in enumerate(scanned):
        (text_pdf,) = [other.path for other in plain if other.invoice_id == invoice.invoice_id]
        style = ScanStyle(angle=(-1.2, 1.6, -1.8)[number])
        (png,) = scan_pdf(text_pdf, folder / f"{text_pdf.stem}.png", style, seed=number)
        assert invoice.invoice_id is not None
        pngs[invoice.invoice_id] = png
    return Scans(scanned, pngs, [invoice for invoice in night if invoice.embedded and not invoice.bad])


@pytest.fixture(scope="module")
def client(
    start_devserver: Callable[..., AbstractContextManager[DevServerHandle]],
) -> Iterator[VlmClient]:
    with (
        start_devserver("--processing-time", "0", "--api-key", "scan-key") as server,
        VlmClient("scan-key", server.base_url, timeout=300.0) as vlm,
    ):
        yield vlm


def _expected(invoice: SampleInvoice) -> dict[str, Any]:
    return {
        "invoice_id": invoice.invoice_id,
        "invoice_issue_date": invoice.issue_date.isoformat(),
        "total_amount": float(invoice.total_amount),
    }


def _read(response: dict[str, Any]) -> dict[str, Any]:
    return {field: response.get(field) for field in SCORED}


def _engine(response: dict[str, Any]) -> Any:
    return (response.get("_devserver") or {}).get("engine")


#: Scans the engine misreads today, with what goes wrong (strict: a fix makes the test fail
#: until its entry is removed, so the pin takes hold).
MISREAD: dict[tuple[str, int], str] = {}


def _numbers(kind: str) -> list[Any]:
    return [
        pytest.param(number, marks=pytest.mark.xfail(strict=True, reason=MISREAD[(kind, number)]))
        if (kind, number) in MISREAD
        else number
        for number in range(3)
    ]


@pytest.mark.parametrize("number", _numbers("pdf"))
def test_scanned_pdfs_are_read_by_ocr_with_the_printed_fields(
    scans: Scans, client: VlmClient, number: int
) -> None:
    invoice = scans.invoices[number]
    prediction = client.document.generate(file=invoice.path, domain=DOMAIN, config={"confidence": True})
    assert prediction.status == "completed", prediction
    response = dict(prediction.response or {})
    assert _engine(response) == OCR_ENGINE
    assert _read(response) == _expected(invoice), invoice.path.name


@pytest.mark.parametrize("number", _numbers("png"))
def test_png_scans_through_the_image_route_give_the_same_fields(
    scans: Scans, client: VlmClient, number: int
) -> None:
    invoice = scans.invoices[number]
    assert invoice.invoice_id is not None
    png = scans.pngs[invoice.invoice_id]
    prediction = client.image.generate(domain=DOMAIN, images=[png], config={"confidence": True})
    assert prediction.status == "completed", prediction
    response = dict(prediction.response or {})
    assert _engine(response) == OCR_ENGINE
    assert _read(response) == _expected(invoice), png.name


def test_scans_go_to_review_for_confidence_where_e_invoices_pass(scans: Scans, client: VlmClient) -> None:
    """The nightly DAG's confidence check flags every scan and no e-invoice; OCR is less sure than XML."""

    def read(invoice: SampleInvoice) -> dict[str, Any]:
        prediction = client.document.generate(file=invoice.path, domain=DOMAIN, config={"confidence": True})
        assert prediction.status == "completed", prediction
        return dict(prediction.response or {})

    assert scans.e_invoices
    xml_read = [read(invoice) for invoice in scans.e_invoices]
    for response in xml_read:
        assert check_invoice(response, rules=[], min_confidence=FLOOR) == []
    surest_ocr: dict[str, float] = {}
    for invoice in scans.invoices:
        response = read(invoice)
        assert check_invoice(response, rules=[], min_confidence=FLOOR), (
            f"{invoice.path.name} would pass review"
        )
        for field in SCORED:
            if response.get(field) is None:
                continue  # not read at all: no metadata, and check_invoice flags it anyway
            confidence = float(response[f"{field}_metadata"]["confidence"])
            surest_ocr[field] = max(surest_ocr.get(field, 0.0), confidence)
    assert surest_ocr, "no scan had a scored field read"
    for field, confidence in surest_ocr.items():
        least_xml = min(float(response[f"{field}_metadata"]["confidence"]) for response in xml_read)
        assert 0 < confidence < least_xml, (field, confidence, least_xml)
