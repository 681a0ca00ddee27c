"""Scans: image-only PDFs and page images, read by OCR into text the text engine understands.

Tesseract's words are put back into lines by where they stand on the page (a label and its value
far apart in one table row are one line, as the text engine expects), and each line becomes a
``TextRun`` in page pixels, so grounding finds a value's box the same way as on a text layer. Each
character keeps its word's OCR confidence, so a value's confidence can say how sure the OCR was.
Two misreadings are undone before the text engine sees them: an amount's decimal point read as
a colon (``$1,234:56``) and a date's dot read as a colon (``05:03.2013``), which would otherwise
hide the total or the date.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from statistics import median

from . import ocr, ocr_pool
from .ocr import Page, Word
from .pdf import TextRun

#: Named in a scan's result mark, so a reader knows which values OCR produced.
ENGINE = "tesseract"
#: A colon or semicolon read where an amount's decimal separator stands (``1,234:56``,
#: ``€1.234;56``): only in a word that is an amount for sure (currency sign or thousands group).
_MISREAD_DECIMAL = re.compile(r"(?<=\d)[:;](?=\d{2}(?!\d))")
_SURE_AMOUNT = re.compile(r"[$€£]|\d[.,]\d{3}(?!\d)")
#: A dotted date with one dot read as a colon, semicolon or comma (``05:03.2013``, ``05.03;2013``).
_MISREAD_DATE = re.compile(r"^(\d{1,2})[.:;,](\d{1,2})[.:;,](\d{4})\b")
#: Label words the text engine looks for, put right when OCR got a letter or two of them wrong
#: ("Zahibetrag", "Wruttosumme", "Kteverbetrag"): long words only, where that is still unambiguous.
_LABEL_WORDS = (
    "Zahlbetrag",
    "Bruttosumme",
    "Bruttobetrag",
    "Gesamtbetrag",
    "Rechnungsbetrag",
    "Endbetrag",
    "Rechnungsnummer",
    "Rechnungsdatum",
    "Rechnungssumme",
    "Steuerbetrag",
    "Rechnungskorrektur",
    "Gutschrift",
    "Invoice",
)
_WORD_CORE = re.compile(r"^(\W*)(\w{7,})(\W*)$")
#: An amount split after its decimal separator (``_rejoined``): the head ends "<digit>." or
#: "<digit>,", the tail is the two decimals and what follows them.
_SPLIT_HEAD = re.compile(r"\d[.,]$")
_SPLIT_TAIL = re.compile(r"^\d{2}(?!\d)")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"GIF8", b"BM")


def is_image(content: bytes) -> bool:
    """PNG, JPEG, TIFF, GIF or BMP by their first bytes (WebP: RIFF....WEBP)."""
    return content.startswith(_IMAGE_MAGIC) or (content[:4] == b"RIFF" and content[8:12] == b"WEBP")


@dataclass
class ScanText:
    """What OCR read: the text (pages joined), its lines as runs, and each run's confidences."""

    pages: list[str]
    runs: list[TextRun]
    #: Per run (by position in ``runs``), each character's OCR confidence, 0-1.
    confidences: list[tuple[float, ...]] = field(default_factory=list)
    #: The pages' words as OCR gave them (``filled`` adds to them).
    read: list[Page] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.pages)

    def mean(self) -> float:
        """Mean confidence of every character read (0 when nothing was)."""
        chars = [c for run in self.confidences for c in run]
        return sum(chars) / len(chars) if chars else 0.0

    def span(self, run: TextRun, start: int, end: int) -> float:
        """Mean confidence of ``run``'s characters ``start:end`` (spaces left out)."""
        index = next(i for i, candidate in enumerate(self.runs) if candidate is run)
        pairs = zip(run.text[start:end], self.confidences[index][start:end], strict=False)
        kept = [c for ch, c in pairs if not ch.isspace()]
        return sum(kept) / len(kept) if kept else self.mean()


def read(sources: Sequence[tuple[bytes, int | None]]) -> ScanText:
    """OCR of every ``(content, page)`` (page None: the content is one image), in order."""
    return _assembled(ocr_pool.current().read(sources))


def filled(first: ScanText, sources: Sequence[tuple[bytes, int | None]]) -> ScanText:
    """``first`` with the words a second, word-by-word reading (Tesseract's sparse mode) finds
    where the first found none or read with less confidence.

    Tesseract's page layout sometimes drops a whole block of a page (a column of labels beside
    their values: "Invoice number:", "Issue date:"); the sparse mode reads text in any order and
    finds it. It costs a second reading, so the engine asks for it only when a field is missing.
    Both readings clean the page up the same way, so their words share one set of pixels.
    """
    sparse = ocr_pool.current().read(sources, (*ocr.STEPS, "sparse"))
    return _assembled([_merged(page, extra) for page, extra in zip(first.read, sparse, strict=True)])


def _merged(page: Page, extra: Page) -> Page:
    """``page`` plus the words of ``extra`` where ``page`` has none, and in place of ``page``'s
    words that ``extra`` read with more confidence (dust read as ``"ae"`` where the sparse reading saw
    ``"529,87"``)."""
    words = list(page.words)
    for word in extra.words:
        clashes = [i for i, mine in enumerate(words) if _overlap(mine, word)]
        if not clashes:
            words.append(word)
        elif all(words[i].conf < word.conf for i in clashes):
            words = [mine for i, mine in enumerate(words) if i not in clashes] + [word]
    return replace(page, words=tuple(words))


def _overlap(a: Word, b: Word) -> bool:
    """Whether either word's middle lies in the other's box (the same ink read twice)."""

    def inside(x: Word, y: Word) -> bool:
        mx, my = x.left + x.width / 2, x.top + x.height / 2
        return y.left - 2 <= mx <= y.left + y.width + 2 and y.top - 2 <= my <= y.top + y.height + 2

    return inside(a, b) or inside(b, a)


def _assembled(pages: Sequence[Page]) -> ScanText:
    out = ScanText([], [], read=list(pages))
    for index, page in enumerate(pages):
        lines = _lines(page.words)
        out.pages.append(_joined(lines))
        for line in lines:
            run, confidences = _run(index, page, line)
            out.runs.append(run)
            out.confidences.append(confidences)
    return out


def text_of(page: Page) -> str:
    """A page's words as lines of text, top to bottom (what the text engine parses)."""
    return _joined(_lines(page.words))


def _joined(lines: list[list[Word]]) -> str:
    return "\n".join(" ".join(word.text for word in line) for line in lines)


def _lines(words: Sequence[Word]) -> list[list[Word]]:
    """Words grouped into lines by their vertical middle, each line left to right, top line first."""
    if not words:
        return []
    words = [_fixed(word) for word in words]
    height = median(word.height for word in words)
    lines: list[list[Word]] = []
    for word in sorted(words, key=lambda w: w.top + w.height / 2):
        middle = word.top + word.height / 2
        if lines:
            last = lines[-1]
            last_middle = sum(w.top + w.height / 2 for w in last) / len(last)
            if abs(middle - last_middle) < 0.5 * height:
                last.append(word)
                continue
        lines.append([word])
    return [_rejoined(sorted(line, key=lambda w: w.left), height) for line in lines]


def _rejoined(line: list[Word], height: float) -> list[Word]:
    """``line`` with an amount OCR split after its decimal separator joined again: ``2,076.``
    and ``76€`` a narrow gap apart are ``2,076.76€``."""
    out: list[Word] = []
    for word in line:
        last = out[-1] if out else None
        if (
            last is not None
            and _SPLIT_HEAD.search(last.text)
            and _SPLIT_TAIL.match(word.text)
            and word.left - (last.left + last.width) < 0.6 * height
        ):
            top = min(last.top, word.top)
            out[-1] = Word(
                last.text + word.text,
                min(last.conf, word.conf),
                last.left,
                top,
                word.left + word.width - last.left,
                max(last.top + last.height, word.top + word.height) - top,
            )
            continue
        out.append(word)
    return out


def _fixed(word: Word) -> Word:
    """``word`` with a misread decimal separator or label word put right (the run's advances are
    measured on the text as put right)."""
    core = _WORD_CORE.match(word.text)
    if core:
        label = _label_word(core.group(2))
        if label is not None:
            return replace(word, text=core.group(1) + label + core.group(3))
    date = _MISREAD_DATE.match(word.text)
    if (
        date
        and word.text[date.end(1)] != "/"
        and (word.text[date.end(1)] == "." or word.text[date.end(2)] == ".")
    ):
        day, month, year = date.groups()
        return replace(word, text=f"{day}.{month}.{year}{word.text[date.end() :]}")
    match = _MISREAD_DECIMAL.search(word.text)
    if match is None or not _SURE_AMOUNT.search(word.text):
        return word
    before = word.text[: match.start()]
    point = "," if "." in before and "," not in before else "."  # 1.234:56 is German: 1.234,56
    return replace(word, text=before + point + word.text[match.end() :])


def _label_word(text: str) -> str | None:
    """The label word ``text`` is a letter or two away from, if any and if only one: one letter
    substituted, dropped or added in a word of 7 to 11, two in a longer one ("Kteverbetrag").

    A word that is a label word itself stays ("Rechnungssumme" is two letters from
    "Rechnungsnummer")."""
    folded = text.casefold()
    near: list[tuple[int, str]] = []
    for label in _LABEL_WORDS:
        want = label.casefold()
        if folded == want:
            return None
        allowed = 2 if len(want) >= 12 else 1
        if abs(len(want) - len(folded)) <= allowed and (edits := _edits(want, folded)) <= allowed:
            near.append((edits, label))
    near.sort()
    if not near or (len(near) > 1 and near[1][0] == near[0][0]):
        return None
    label = near[0][1]
    return label if text[0].isupper() else label.lower()


def _edits(a: str, b: str) -> int:
    """Levenshtein distance: letters substituted, dropped or added to turn ``a`` into ``b``."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def _run(index: int, page: Page, line: list[Word]) -> tuple[TextRun, tuple[float, ...]]:
    """One line as a run in page pixels (y measured up from the bottom, as in a PDF)."""
    top = min(word.top for word in line)
    size = max(word.top + word.height for word in line) - top
    text: list[str] = []
    advances: list[float] = []
    confidences: list[float] = []
    for position, word in enumerate(line):
        if position:
            previous = line[position - 1]
            text.append(" ")
            advances.append(max(0.0, word.left - (previous.left + previous.width)))
            confidences.append(min(previous.conf, word.conf) / 100)
        per_char = word.width / len(word.text)
        text.append(word.text)
        advances.extend(per_char for _ in word.text)
        confidences.extend(word.conf / 100 for _ in word.text)
    run = TextRun(
        page=index,
        text="".join(text),
        x=float(line[0].left),
        baseline=page.height - top - 0.8 * size,
        size=float(size),
        page_width=float(page.width),
        page_height=float(page.height),
        advances=tuple(advances),
    )
    return run, tuple(confidences)
