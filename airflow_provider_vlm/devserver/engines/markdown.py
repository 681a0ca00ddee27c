"""``document.markdown``: the PDF's text layer, one entry per page."""

from __future__ import annotations

from .base import EngineInput, EngineResult, marker, usage
from .pdf import open_pdf, page_texts


def run(inp: EngineInput) -> EngineResult:
    if inp.content is None:
        raise ValueError("the markdown engine needs file content")
    reader = open_pdf(inp.content)
    texts = page_texts(reader)
    pages = [{"page_number": number, "content": text} for number, text in enumerate(texts)]
    return EngineResult({"pages": pages, **marker("markdown")}, usage(len(pages), "page"))
