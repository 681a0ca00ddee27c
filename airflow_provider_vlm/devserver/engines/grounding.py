"""``confidence``/``grounding``: each extracted field ``X`` gets a sibling ``X_metadata``.

``X_metadata`` holds ``confidence`` (with ``config.confidence``) and, with ``config.grounding``,
``bbox: {"xywh": [x, y, w, h]}`` where the value is printed: fractions of the page's width and
height, from its top-left corner (what the SDK's renderer draws), plus ``bbox_content`` (the
printed text) and ``page`` (0-based).

The numbers are honest about where a value came from. A value read from an e-invoice's embedded
XML is near-certain; a value parsed from the text layer is as sure as the way it was found (right
after its label, before it, after a generic label, or guessed from its shape). A value is looked
up on the page in the forms an invoice prints it (``529.87``, ``529,87``, ``1,466.04``,
``16.11.2026`` ...); when the page does not show it, there is no box.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

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
    found: Mapping[str, Found], runs: list[TextRun], *, confidence: bool, grounding: bool
) -> dict[str, dict[str, Any]]:
    """``{"X_metadata": {...}}`` for every found field ``X``."""
    out: dict[str, dict[str, Any]] = {}
    for name, item in found.items():
        box = locate(runs, printed_forms(item.value)) if runs else None
        entry: dict[str, Any] = {}
        if confidence:
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
    best: tuple[tuple[int, int, float], TextRun, int, str] | None = None
    for run in runs:
        for form in forms:
            start = _find(run.text, form)
            if start < 0:
                continue
            rank = (len(run.text.strip()), run.page, -run.baseline)
            if best is None or rank < best[0]:
                best = (rank, run, start, form)
    if best is None:
        return None
    _, run, start, form = best
    return {"bbox": {"xywh": _xywh(run, start, form)}, "bbox_content": form, "page": run.page}


def _find(text: str, form: str) -> int:
    """Where ``form`` stands in ``text`` as a whole token (not inside a longer number or word)."""
    for match in re.finditer(re.escape(form), text):
        before = text[match.start() - 1] if match.start() else " "
        after = text[match.end()] if match.end() < len(text) else " "
        if not (before.isalnum() or after.isalnum()):
            if after in ".," and text[match.end() + 1 : match.end() + 2].isdigit():
                continue  # "529.87" inside "529.875"
            return match.start()
    return -1


def _xywh(run: TextRun, start: int, form: str) -> list[float]:
    """The value's box as fractions of the page, origin at its top-left corner.

    Horizontally from the font's advance widths; vertically from the baseline, a fifth of the
    font size below it (descenders) to four fifths above it (capitals and digits).
    """
    left = run.x + run.width_of(run.text[:start])
    width = run.width_of(form)
    top = run.baseline + 0.8 * run.size
    height = run.size
    return [
        round(left / run.page_width, 4),
        round((run.page_height - top) / run.page_height, 4),
        round(width / run.page_width, 4),
        round(height / run.page_height, 4),
    ]
