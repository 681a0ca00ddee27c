"""OCR of one page image with Tesseract (through pytesseract): what runs inside a pool worker.

A page is decoded, cleaned up (grayscale, a small skew undone, speckles removed: measured in
``bench/ocr_engines.py``) and read; the answer is every word with its box and Tesseract's
confidence, in the page image's pixels. Pillow and pytesseract are imported lazily so that a
dev server without them still starts and says what is missing (``unavailable``).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image

#: Tesseract's languages the dev server reads with, in order of preference (Debian's packages
#: ``tesseract-ocr-deu``, ``tesseract-ocr-eng``).
LANGUAGES = ("deu", "eng")
#: What to install when OCR is missing, said at start and in every failed scan's message.
INSTALL_HINT = (
    "install Debian's tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu (`make tesseract` as root) "
    "and the dev server's extra: pip install 'airflow-provider-vlm[devserver]'"
)
#: The clean-up a page gets before OCR: the best of the variants ``bench/ocr_engines.py``
#: measures (docs/devserver.md); binarising, upscaling to 300 dpi and Tesseract's sparse page
#: segmentation ("sparse") each got fewer ids, dates and totals right, upscaling at 2.5x the CPU.
STEPS = ("despeckle", "deskew")
#: Skew angles tried when straightening a page, in degrees either way.
MAX_SKEW = 5.0
_SKEW_STEP = 0.5
_SKEW_FINE = 0.1
#: Width the skew search works at (a small copy of the page: fast, and enough to see lines).
_SKEW_WIDTH = 500


@dataclass(frozen=True)
class Word:
    """One word as Tesseract read it: text, confidence (0-100) and box in page pixels."""

    text: str
    conf: float
    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True)
class Page:
    """One page's words and the size of the image they were read from."""

    width: int
    height: int
    words: tuple[Word, ...]
    #: Degrees the page was turned to straighten it (0 when it was straight).
    deskewed: float = 0.0


def unavailable(tesseract: str = "tesseract") -> tuple[str | None, str]:
    """(why OCR cannot run, or None; the Tesseract languages to read with, e.g. ``deu+eng``)."""
    for module, package in (("PIL", "Pillow"), ("pytesseract", "pytesseract")):
        try:
            __import__(module)
        except ImportError:
            return f"the Python package {package} is not installed; {INSTALL_HINT}", ""
    program = shutil.which(tesseract)
    if program is None:
        return f"the Tesseract program {tesseract!r} was not found; {INSTALL_HINT}", ""
    try:
        listed = subprocess.run(
            [program, "--list-langs"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.split()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"the Tesseract program {program!r} does not run ({exc}); {INSTALL_HINT}", ""
    langs = [lang for lang in LANGUAGES if lang in listed]
    if not langs:
        return f"Tesseract has neither English nor German data; {INSTALL_HINT}", ""
    return None, "+".join(langs)


def read_page(
    source: bytes, page: int | None, tesseract: str, langs: str, steps: tuple[str, ...] = STEPS
) -> Page:
    """The words of ``source``: an image file, or page ``page`` (0-based) of an image-only PDF."""
    image = prepared(source, page, steps)
    angle = float(image.info.get("deskewed", 0.0))
    # "sparse": Tesseract's page segmentation mode 11 (text in any order, no blocks), else 3 (auto).
    psm = 11 if "sparse" in steps else 3
    return Page(image.width, image.height, _words(image, tesseract, langs, psm), angle)


def prepared(source: bytes, page: int | None, steps: tuple[str, ...] = STEPS) -> Image:
    """The page image in grayscale, cleaned up by ``steps`` (in the order listed here)."""
    from PIL import ImageOps

    image = ImageOps.exif_transpose(_decode(source, page)).convert("L")
    if "despeckle" in steps:
        image = _despeckled(image)
    if "deskew" in steps:
        image = _straight(image)
    if "upscale" in steps:
        image = _upscaled(image)
    if "binarise" in steps:
        image = _binarised(image)
    return image


def _decode(source: bytes, page: int | None) -> Image:
    from PIL import Image as PILImage

    if page is None:
        image = PILImage.open(io.BytesIO(source))
        image.load()
        return image
    from pypdf import PdfReader

    images = PdfReader(io.BytesIO(source)).pages[page].images
    if not images:
        raise ValueError(f"page {page + 1} has neither text nor an image")
    # A scanner's page is one image; with several, the largest is the page.
    biggest = max(images, key=lambda found: found.image.width * found.image.height if found.image else 0)
    if biggest.image is None:
        raise ValueError(f"page {page + 1}'s image cannot be decoded")
    return biggest.image


def _despeckled(image: Image) -> Image:
    """Speckles removed: a 3x3 median keeps strokes and drops isolated dots."""
    from PIL import ImageFilter

    return image.filter(ImageFilter.MedianFilter(3))


def _upscaled(image: Image) -> Image:
    """Twice the size (Lanczos): Tesseract reads best at about 300 dpi, a cheap scan has 150."""
    from PIL import Image as PILImage

    return image.resize((image.width * 2, image.height * 2), PILImage.Resampling.LANCZOS)


def _binarised(image: Image) -> Image:
    """Black and white at Otsu's threshold (the one that best splits the page's gray levels)."""
    histogram = image.histogram()[:256]
    total = sum(histogram)
    weighted = sum(level * count for level, count in enumerate(histogram))
    best, threshold, below, below_weighted = -1.0, 128, 0, 0.0
    for level, count in enumerate(histogram):
        below += count
        below_weighted += level * count
        above = total - below
        if not below or not above:
            continue
        spread = below * above * (below_weighted / below - (weighted - below_weighted) / above) ** 2
        if spread > best:
            best, threshold = spread, level
    return image.point(lambda v: 255 if v > threshold else 0)


def _straight(image: Image) -> Image:
    """``image`` turned by the angle (within ``MAX_SKEW``) that makes its text lines horizontal."""
    from PIL import Image as PILImage

    scale = _SKEW_WIDTH / image.width if image.width > _SKEW_WIDTH else 1.0
    small = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))))
    small = small.point(lambda v: 0 if v < 160 else 255)
    steps = int(MAX_SKEW / _SKEW_STEP)
    coarse = max((k * _SKEW_STEP for k in range(-steps, steps + 1)), key=lambda a: _sharpness(small, a))
    fine = [coarse + k * _SKEW_FINE for k in range(-4, 5)]
    angle = max(fine, key=lambda a: _sharpness(small, a))
    if abs(angle) < _SKEW_FINE / 2:
        return image
    turned = image.rotate(angle, resample=PILImage.Resampling.BICUBIC, expand=True, fillcolor=255)
    turned.info["deskewed"] = round(angle, 2)
    return turned


def _sharpness(small: Image, angle: float) -> float:
    """How sharply dark rows and white gaps alternate when turned by ``angle``: text lines that run
    straight make a row profile with tall peaks."""
    turned = small.rotate(angle, fillcolor=255) if angle else small
    rows = list(turned.resize((1, turned.height), resample=3).getdata())  # BOX filter: row means
    return float(sum((a - b) ** 2 for a, b in pairwise(rows)))


def _words(image: Image, tesseract: str, langs: str, psm: int = 3) -> tuple[Word, ...]:
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = tesseract
    data: dict[str, list[Any]] = pytesseract.image_to_data(
        image, lang=langs, config=f"--psm {psm}", output_type=pytesseract.Output.DICT
    )
    words: list[Word] = []
    for i, text in enumerate(data["text"]):
        text = str(text).strip()
        conf = float(data["conf"][i])
        if text and conf >= 0:
            words.append(
                Word(
                    text,
                    conf,
                    int(data["left"][i]),
                    int(data["top"][i]),
                    int(data["width"][i]),
                    int(data["height"][i]),
                )
            )
    return tuple(words)


def init_worker() -> None:
    """A pool worker's start: Tesseract on one thread (its default threads slow a shared machine
    several times over: about 8 s a page instead of 1 s on 2 cores)."""
    os.environ["OMP_THREAD_LIMIT"] = "1"
