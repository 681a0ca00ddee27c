"""``document.invoice``: the embedded e-invoice XML when there is one, else the PDF's text layer,
else (a scan: an image-only PDF, or PNG/JPEG pages) the text OCR reads (``scan``).

A plain CII or UBL XML upload (XRechnung is often sent bare) is read the same way. With
``config.confidence``/``config.grounding``, each extracted field gets its ``X_metadata``
(``grounding``).
"""

from __future__ import annotations

from typing import Any

from pypdf import PdfReader

from .. import domains
from . import einvoice, grounding, invoice_text, scan
from .base import EngineError, EngineInput, EngineResult, marker, usage
from .invoice_text import Found
from .pdf import embedded_files, is_pdf, open_pdf, page_texts, text_runs

DOMAIN = "document.invoice"
#: Fields a scan is read a second time for when the first reading misses one (``scan.filled``).
_KEY_FIELDS = ("invoice_id", "invoice_issue_date", "total_amount")


def run(inp: EngineInput) -> EngineResult:
    if inp.media == "image":
        return _scan(inp, [(image, None) for image in inp.images], usage(len(inp.images), "image"))
    if inp.content is None:
        raise ValueError("the invoice engine needs file content")
    if scan.is_image(inp.content):
        return _scan(inp, [(inp.content, None)], usage(1, "page"))
    if not is_pdf(inp.content) and inp.content.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        fields = einvoice.map_invoice(einvoice.parse(inp.content))
        extra = _metadata(inp, grounding.from_xml(fields), None)
        return EngineResult(
            _complete(fields, extra, marker("invoice-xml", source=inp.filename)), usage(1, "page")
        )
    reader = open_pdf(inp.content)
    pages = usage(len(reader.pages), "page")
    attachments = embedded_files(reader)
    name = _invoice_attachment(attachments)
    if name is not None:
        fields = einvoice.map_invoice(einvoice.parse(attachments[name]))
        extra = _metadata(inp, grounding.from_xml(fields), reader)
        return EngineResult(_complete(fields, extra, marker("invoice-xml", source=name)), pages)
    text = "\n".join(page_texts(reader))
    if not text.strip():
        return _scan(inp, [(inp.content, page) for page in range(len(reader.pages))], pages)
    found = invoice_text.parse_with_methods(text)
    fields = {field: item.value for field, item in found.items()}
    extra = _metadata(inp, found, reader)
    return EngineResult(_complete(fields, extra, marker("invoice-text", found=sorted(fields))), pages)


def _scan(inp: EngineInput, sources: list[tuple[bytes, int | None]], billed: dict[str, Any]) -> EngineResult:
    """A scan's fields: OCR, then the text engine's extraction; metadata from OCR's words."""
    read = scan.read(sources)
    found = invoice_text.parse_with_methods(read.text)
    if any(name not in found for name in _KEY_FIELDS):
        read = scan.filled(read, sources)
        # What the first reading found stays; the second only adds what it lacked.
        found = {**invoice_text.parse_with_methods(read.text), **found}
    fields = {field: item.value for field, item in found.items()}
    confidence, boxes = grounding.requested(inp.config)
    extra: dict[str, Any] = {}
    if confidence or boxes:
        extra = grounding.metadata(found, read.runs, confidence=confidence, grounding=boxes, ocr=read)
    mark = marker("invoice-ocr", found=sorted(fields), pages=len(read.pages), ocr=scan.ENGINE)
    return EngineResult(_complete(fields, extra, mark), billed)


def _metadata(inp: EngineInput, found: dict[str, Found], reader: PdfReader | None) -> dict[str, Any]:
    """The ``X_metadata`` siblings the request asked for (none unless it did)."""
    confidence, boxes = grounding.requested(inp.config)
    if not (confidence or boxes):
        return {}
    runs = text_runs(reader) if reader is not None else []
    return grounding.metadata(found, runs, confidence=confidence, grounding=boxes)


def _invoice_attachment(attachments: dict[str, bytes]) -> str | None:
    """The embedded e-invoice's name: a well-known name first, else any XML with an invoice root."""
    for name in einvoice.ATTACHMENT_NAMES:
        if name in attachments:
            return name
    for name, data in attachments.items():
        if name.lower().endswith(".xml"):
            try:
                root = einvoice.parse(data)
            except EngineError:
                return name  # broken XML is still the invoice: parsing it again reports why
            if einvoice.syntax(root):
                return name
    return None


def _complete(fields: dict[str, Any], extra: dict[str, Any], mark: dict[str, Any]) -> dict[str, Any]:
    """Every schema field present (null when unknown), the ``X_metadata`` siblings, the dev server's mark."""
    schema = domains.json_schema(DOMAIN) or {}
    base = domains.empty_instance(schema)
    return {**base, **fields, **extra, **mark}
