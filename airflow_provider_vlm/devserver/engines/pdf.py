"""Reading PDFs with pypdf: text layer, where its text stands, page count, embedded files.

pypdf raises many exception types on damaged files; they are all turned into ``EngineError``
here, at the one boundary where untrusted bytes meet the parser, so a bad upload becomes a
failed prediction and never a 500.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


#: Average glyph width in ems, for a font whose widths pypdf cannot give.
_AVERAGE_WIDTH = 0.5
#: Pieces on one line closer than this many ems are one piece of text (a word drawn in parts);
#: a piece that starts before the previous one ends (metrics that overshoot) is joined too.
_JOIN_GAP = 0.35
#: A gap wider than this many ems between joined pieces reads as a space.
_SPACE_GAP = 0.15


@dataclass(frozen=True)
class TextRun:
    """A piece of a page's text layer and where it is drawn, in PDF points.

    ``x`` and ``baseline`` are measured from the page box's left and bottom edges (PDF user
    space); ``advances`` holds each character's advance width, so the place of any part of
    ``text`` is known. Pieces drawn next to each other on one line are joined into one run.
    """

    page: int
    text: str
    x: float
    baseline: float
    size: float
    page_width: float
    page_height: float
    advances: tuple[float, ...]

    @property
    def end(self) -> float:
        return self.x + sum(self.advances)

    def offset(self, start: int) -> float:
        """Points from the run's left edge to character ``start``."""
        return sum(self.advances[:start])

    def width(self, start: int, length: int) -> float:
        return sum(self.advances[start : start + length])


def text_runs(reader: PdfReader) -> list[TextRun]:
    """Every drawn text piece of every page with its position ([] for pages that cannot be read)."""
    runs: list[TextRun] = []
    for index, page in enumerate(reader.pages):
        try:
            runs.extend(_joined(_page_runs(index, page)))
        except _PARSE_ERRORS:
            continue
    return runs


def _page_runs(index: int, page: Any) -> list[TextRun]:
    box = page.mediabox
    left, bottom = float(box.left), float(box.bottom)
    width, height = float(box.width), float(box.height)
    runs: list[TextRun] = []
    widths: dict[int, Callable[[str], float]] = {}

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        text = text.rstrip("\n")
        if not text.strip() or not size:
            return
        a, b = tm[0] * cm[0] + tm[1] * cm[2], tm[0] * cm[1] + tm[1] * cm[3]
        c, d = tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3]
        e = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        f = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        if abs(b) > 1e-6 or abs(c) > 1e-6 or "\n" in text:
            return  # rotated text, or lines pypdf ran together: no upright box for them
        key = id(font)
        if key not in widths:
            widths[key] = _em_widths(font)
        em = widths[key]
        scale = float(size) * math.hypot(a, b)
        runs.append(
            TextRun(
                page=index,
                text=text,
                x=e - left,
                baseline=f - bottom,
                size=float(size) * math.hypot(c, d),
                page_width=width,
                page_height=height,
                advances=tuple(em(ch) * scale for ch in text),
            )
        )

    page.extract_text(visitor_text=visit)
    return runs


def _joined(runs: list[TextRun]) -> list[TextRun]:
    """Runs drawn one after the other on the same line, with no gap to speak of, as one run."""
    out: list[TextRun] = []
    for run in runs:
        last = out[-1] if out else None
        if (
            last is not None
            and abs(run.baseline - last.baseline) < 0.1 * last.size
            and abs(run.size - last.size) < 0.5
            and last.x < run.x < last.end + _JOIN_GAP * last.size
        ):
            gap = run.x - last.end
            spaced = last.text.endswith(" ") or run.text.startswith(" ")
            if gap > _SPACE_GAP * last.size and not spaced:
                text, advances = f"{last.text} {run.text}", (*last.advances, gap, *run.advances)
            else:  # kerning, a space already there, or metrics that overshoot: each piece keeps its x
                text = last.text + run.text
                advances = (*last.advances[:-1], last.advances[-1] + gap, *run.advances)
            out[-1] = TextRun(
                last.page,
                text,
                last.x,
                last.baseline,
                last.size,
                last.page_width,
                last.page_height,
                advances,
            )
        else:
            out.append(run)
    return out


def _em_widths(font: Any) -> Callable[[str], float]:
    """Advance width in ems of a string in ``font`` (a page's font dictionary), from its metrics.

    pypdf knows the widths of embedded and standard fonts; where it cannot tell, an average
    glyph width is used, so a box is then about right rather than exact.
    """
    try:
        from pypdf.generic._font import Font  # pypdf >= 6 keeps its font metrics here

        metrics = Font.from_font_resource(font)
        default = float(metrics.character_widths.get("default", 1000 * _AVERAGE_WIDTH))
        table = {k: float(v) for k, v in metrics.character_widths.items()}
    except (ImportError, *_PARSE_ERRORS):  # a private API: when it fails, no metrics
        return lambda part: len(part) * _AVERAGE_WIDTH

    def measure(part: str) -> float:
        return sum(table.get(ch, default) for ch in part) / 1000.0

    return measure
