"""``POST /{document,image}/schema``: guess which known domain an input belongs to."""

from __future__ import annotations

import re

from .base import EngineError, EngineInput
from .invoice import DOMAIN as INVOICE
from .pdf import embedded_files, is_pdf, open_pdf, page_texts

_INVOICE_WORDS = re.compile(r"\b(invoice|rechnung|facture|factuur|fattura|factura)\b", re.IGNORECASE)


def domain_for(inp: EngineInput) -> str:
    """``document.invoice`` for e-invoices and invoice-like text, ``document.markdown`` for other
    documents, ``image.caption`` for images."""
    if inp.media == "image":
        return "image.caption"
    if inp.content is None or not is_pdf(inp.content):
        return "document.markdown"
    try:
        reader = open_pdf(inp.content)
        if any(name.lower().endswith(".xml") for name in embedded_files(reader)):
            return INVOICE
        text = "\n".join(page_texts(reader))
    except EngineError:
        return "document.markdown"
    return INVOICE if _INVOICE_WORDS.search(text) else "document.markdown"
