"""``document.markdown``: the PDF's text layer, one entry per page; a scan's pages as OCR reads them."""

from __future__ import annotations

from . import scan
from .base import EngineInput, EngineResult, marker, usage
from .pdf import open_pdf, page_texts


def run(inp: EngineInput) -> EngineResult:
    if inp.content is None:
        raise ValueError("the markdown engine needs file content")
    if scan.is_image(inp.content):
        texts, engine = scan.read([(inp.content, None)]).pages, "markdown-ocr"
    else:
        texts, engine = page_texts(open_pdf(inp.content)), "markdown"
        if not "".join(texts).strip():
            texts, engine = (
                scan.read([(inp.content, page) for page in range(len(texts))]).pages,
                "markdown-ocr",
            )
    pages = [{"page_number": number, "content": text} for number, text in enumerate(texts)]
    return EngineResult({"pages": pages, **marker(engine)}, usage(len(pages), "page"))
