"""``confidence``/``grounding``: each extracted field ``X`` gets a sibling ``X_metadata``.

``X_metadata`` holds ``confidence`` (with ``config.confidence``) and, with ``config.grounding``,
``bbox: {"xywh": [x, y, w, h]}`` where the value is printed: fractions of the page's width and
height, from its top-left corner (what the SDK's renderer draws), plus ``bbox_content`` (the
printed text) and ``page`` (0-based).

The numbers are honest about where a value came from. A value read from an e-invoice's embedded
XML is near-certain; a value parsed from the text layer is as sure as the way it was found (right
after its label, before it, after a generic label, or guessed from its shape). A value is looked
up on the page in the forms an invoice prints it (``529.87``, ``529,87``, ``1,466.04``,
``16.11.2026`` ...), and a value parsed from the text layer also as the text it was read from;
when the page does not show it, there is no box.

A value read by OCR from a scan is less sure than either: its confidence is its method's times
``OCR_SCALE`` times Tesseract's own confidence in the characters of the value (0-1; the page's
mean when the value is not found among the words). So the best an OCR'd value gets is 0.56 (0.86
x 0.65), below the nightly example's review floor (0.6): a scan goes to review. Its box is where
OCR found the words, in fractions of the page image.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Protocol

from .invoice_text import Found
from .pdf import TextRun

#: Confidence by how a value was found (see ``invoice_text``); ``xml``: the embedded e-invoice.
CONFIDENCE: dict[str, float] = {
    "xml": 0.99,
    "label": 0.86,
    "label-before": 0.72,
    "label-generic": 0.68,
    "count": 0.8,
    "pattern": 0.55,
}
#: Share of a value's confidence kept when a text-layer value cannot be found printed as parsed.
_UNSEEN = 0.9
#: Share of a value's confidence kept when it was read by OCR (before OCR's own confidence).
OCR_SCALE = 0.65


class OcrReading(Protocol):
    """How sure OCR was of what it read (``scan.ScanText``)."""

    def span(self, run: TextRun, start: int, end: int) -> float: ...

    def mean(self) -> float: ...


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def requested(config: Mapping[str, Any]) -> tuple[bool, bool]:
    """(confidence, grounding) as the request's config asks."""
    return bool(config.get("confidence")), bool(config.get("grounding"))


def from_xml(fields: Mapping[str, Any]) -> dict[str, Found]:
    """The e-invoice's fields, each found in the XML."""
    return {name: Found(value, "xml") for name, value in fields.items() if value not in (None, [], {})}


def metadata(
    found: Mapping[str, Found],
    runs: list[TextRun],
    *,
    confidence: bool,
    grounding: bool,
    ocr: OcrReading | None = None,
) -> dict[str, dict[str, Any]]:
    """``{"X_metadata": {...}}`` for every found field ``X``; ``ocr`` when ``runs`` were OCR'd."""
    out: dict[str, dict[str, Any]] = {}
    for name, item in found.items():
        forms = printed_forms(item.value)
        if item.raw and item.raw not in forms:
            forms.insert(0, item.raw)
        hit = _best(runs, forms) if runs else None
        box = _box(*hit) if hit else None
        entry: dict[str, Any] = {}
        if confidence and ocr is not None:
            read = ocr.span(hit[0], *hit[1]) if hit else ocr.mean()
            entry["confidence"] = round(_confidence(item, seen=True, checked=False) * OCR_SCALE * read, 2)
        elif confidence:
            entry["confidence"] = _confidence(item, seen=box is not None, checked=bool(runs))
        if grounding and box is not None:
            entry.update(box)
        if entry:
            out[f"{name}_metadata"] = entry
    return out


def _confidence(item: Found, *, seen: bool, checked: bool) -> float:
    base = CONFIDENCE[item.how]
    if item.how == "count":  # the more the marks agree, the surer
        base *= 0.75 + 0.25 * item.share
    if item.how != "xml" and checked and not seen:
        base *= _UNSEEN
    return round(base, 2)


def printed_forms(value: Any) -> list[str]:
    """How an invoice may print ``value`` (none for objects and lists)."""
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return []
    if isinstance(value, int | float):
        return _amount_forms(float(value))
    text = str(value).strip()
    iso = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    if iso:
        try:
            day = date(int(iso[1]), int(iso[2]), int(iso[3]))
        except ValueError:
            return [text]
        return _date_forms(day)
    return [text] if text else []


def _amount_forms(number: float) -> list[str]:
    english = f"{number:,.2f}"
    plain = f"{number:.2f}"
    european = english.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return list(dict.fromkeys([english, plain, european, plain.replace(".", ",")]))


def _date_forms(day: date) -> list[str]:
    month = _MONTHS[day.month - 1]
    return [
        day.isoformat(),
        f"{day.day:02d}.{day.month:02d}.{day.year}",
        f"{day.day}.{day.month}.{day.year}",
        f"{day.day:02d}/{day.month:02d}/{day.year}",
        f"{day.month:02d}/{day.day:02d}/{day.year}",
        f"{day.day} {month} {day.year}",
        f"{day.day} {month[:3]} {day.year}",
        f"{month} {day.day}, {day.year}",
        f"{month[:3]} {day.day}, {day.year}",
    ]


def locate(runs: Iterable[TextRun], forms: list[str]) -> dict[str, Any] | None:
    """Where one of ``forms`` is printed: the shortest text piece that holds it (a value's own
    cell rather than a sentence that repeats it), the top-most on the first page among equals."""
    hit = _best(runs, forms)
    return _box(*hit) if hit else None


def _best(runs: Iterable[TextRun], forms: list[str]) -> tuple[TextRun, tuple[int, int]] | None:
    """The run and span ``locate`` picks, or None."""
    best: tuple[tuple[int, int, float], TextRun, tuple[int, int]] | None = None
    for run in runs:
        for form in forms:
            span = _find(run.text, form)
            if span is None:
                continue
            rank = (len(run.text.strip()), run.page, -run.baseline)
            if best is None or rank < best[0]:
                best = (rank, run, span)
    return (best[1], best[2]) if best else None


def _box(run: TextRun, span: tuple[int, int]) -> dict[str, Any]:
    start, end = span
    return {"bbox": {"xywh": _xywh(run, start, end)}, "bbox_content": run.text[start:end], "page": run.page}


def _find(text: str, form: str) -> tuple[int, int] | None:
    """Where ``form`` stands in ``text`` as a whole token: ``(start, end)``, or None.

    Spaces do not count (a text layer may draw ``RE-20 201121/508`` in pieces), and a token
    ends where a longer number or word would go on (``529.87`` is not in ``529.875``), but a
    value glued to a word (``471102vom``) still counts.
    """
    compact, where = _compact(text)
    wanted = form.replace(" ", "")
    if not wanted:
        return None
    for match in re.finditer(re.escape(wanted), compact):
        start, end = where[match.start()], where[match.end() - 1] + 1
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if _glued(before, wanted[0]) or _glued(after, wanted[-1]):
            continue
        if after in ".," and text[end + 1 : end + 2].isdigit():
            continue  # "529.87" inside "529.875"
        return start, end
    return None


def _compact(text: str) -> tuple[str, list[int]]:
    """``text`` without spaces, and where each kept character stands in ``text``."""
    where = [i for i, ch in enumerate(text) if not ch.isspace()]
    return "".join(text[i] for i in where), where


def _glued(neighbour: str, edge: str) -> bool:
    """Whether ``neighbour`` continues the token that ends in ``edge`` (digit after digit,
    letter after letter)."""
    return (neighbour.isdigit() and edge.isdigit()) or (neighbour.isalpha() and edge.isalpha())


def _xywh(run: TextRun, start: int, end: int) -> list[float]:
    """The value's box as fractions of the page, origin at its top-left corner.

    Horizontally from the font's advance widths; vertically from the baseline, a fifth of the
    font size below it (descenders) to four fifths above it (capitals and digits).
    """
    left = run.x + run.offset(start)
    width = run.width(start, end - start)
    top = run.baseline + 0.8 * run.size
    height = run.size
    return [
        round(left / run.page_width, 4),
        round((run.page_height - top) / run.page_height, 4),
        round(width / run.page_width, 4),
        round(height / run.page_height, 4),
    ]
