"""Reading PDFs with pypdf: text layer, page count, embedded files.

pypdf raises many exception types on damaged files; they are all turned into ``EngineError``
here, at the one boundary where untrusted bytes meet the parser, so a bad upload becomes a
failed prediction and never a 500.
"""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from .base import EngineError

# pypdf logs every repaired cross-reference table as a warning; a dev server does not need that.
logging.getLogger("pypdf").setLevel(logging.ERROR)

_PARSE_ERRORS = (
    PyPdfError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    AssertionError,
    OSError,
)


def is_pdf(content: bytes) -> bool:
    """PDF files start with ``%PDF-`` (some tools put junk before it; readers allow 1 KiB)."""
    return b"%PDF-" in content[:1024]


def open_pdf(content: bytes) -> PdfReader:
    """A reader for ``content``, or EngineError when it is not a readable PDF."""
    if not is_pdf(content):
        raise EngineError("the file is not a PDF (no %PDF- header)")
    try:
        reader = PdfReader(io.BytesIO(content))
        _ = len(reader.pages)
    except _PARSE_ERRORS as exc:
        raise EngineError(f"the PDF cannot be read: {type(exc).__name__}: {exc}") from exc
    return reader


def page_count(reader: PdfReader) -> int:
    return len(reader.pages)


def page_texts(reader: PdfReader) -> list[str]:
    """The text layer of every page ("" for a page whose text cannot be extracted)."""
    texts: list[str] = []
    for page in reader.pages:
        try:
            texts.append(page.extract_text() or "")
        except _PARSE_ERRORS:
            texts.append("")
    return texts


def embedded_files(reader: PdfReader) -> dict[str, bytes]:
    """Files attached to the document (first version of each name)."""
    try:
        return {name: versions[0] for name, versions in reader.attachments.items() if versions}
    except _PARSE_ERRORS as exc:
        raise EngineError(f"the PDF's embedded files cannot be read: {type(exc).__name__}: {exc}") from exc
