"""Seeded scan maker: turn a PDF into what a scanner or an old ERP hands a finance team.

A scanned invoice is a page image with no text layer and no embedded XML, slightly rotated,
speckled, a little blurred and grey. The dev server must read those through OCR, and the tests
and the demo need such files without a scanner: :func:`scan_pdf` renders a PDF's pages
(pypdfium2, a wheel with no system package), degrades them the way paper does
(:func:`make_scanned`, deterministic for a seed) and writes an image-only PDF, a PNG or a JPEG.

- Same input, style and seed give byte-identical output (no clock, no global random state),
  so a test can pin what OCR reads from it.
- The written PDF holds only images (one per page, JPEG-compressed like a scanner's): no text,
  no fonts, no attachments. :func:`has_text_layer` lets a test check that.
- PNG and JPEG hold one page; :func:`scan_pdf` writes the first page, or one file per page
  with ``all_pages=True`` (``name-p1.png``, ``name-p2.png``, ...).

Needs the ``demo`` extra (pypdfium2, Pillow, fpdf2).
"""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import pypdfium2 as pdfium
from fpdf import FPDF
from PIL import Image, ImageEnhance, ImageFilter

__all__ = [
    "CLEAN",
    "IMAGE_SUFFIXES",
    "ScanStyle",
    "has_text_layer",
    "make_scanned",
    "render_pages",
    "scan_pdf",
    "write_image",
    "write_image_pdf",
]

#: File kinds :func:`scan_pdf` writes besides ``.pdf``.
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg")
_POINTS_PER_INCH = 72.0
_MM_PER_INCH = 25.4
#: A fixed creation date for written PDFs, so the bytes never depend on the clock.
_PDF_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ScanStyle:
    """How scanned a page looks. The defaults are an office scanner on a slightly crooked sheet.

    ``angle`` is the rotation in degrees (positive: counter-clockwise); ``speckle`` the share of
    pixels hit by dust (dark) or dropouts (light); ``grain`` how strongly a seeded noise layer
    is blended in (0..1); ``blur`` a Gaussian radius in pixels; ``contrast`` below 1 greys the
    page (faded toner, grey paper); ``dpi`` the render resolution; ``jpeg_quality`` the
    compression of JPEG output and of the images inside a scanned PDF.
    """

    angle: float = 1.5
    speckle: float = 0.002
    grain: float = 0.06
    blur: float = 0.6
    contrast: float = 0.8
    dpi: int = 150
    jpeg_quality: int = 80

    def with_(self, **changes: float) -> ScanStyle:
        """A copy with some fields changed (``style.with_(angle=-2.0)``)."""
        return replace(self, **changes)  # type: ignore[arg-type]


#: A clean render: no rotation, no noise (the baseline of an accuracy table).
CLEAN = ScanStyle(angle=0.0, speckle=0.0, grain=0.0, blur=0.0, contrast=1.0)


def render_pages(pdf: bytes | Path, dpi: int = 150) -> list[Image.Image]:
    """Render every page of ``pdf`` (bytes or a path) to a grayscale image at ``dpi``."""
    data = pdf.read_bytes() if isinstance(pdf, Path) else pdf
    document = pdfium.PdfDocument(data)
    try:
        pages = []
        for index in range(len(document)):
            page = document[index]
            try:
                bitmap = page.render(scale=dpi / _POINTS_PER_INCH, grayscale=True)
                pages.append(bitmap.to_pil().convert("L"))
            finally:
                page.close()
        return pages
    finally:
        document.close()


def make_scanned(page: Image.Image, style: ScanStyle = ScanStyle(), seed: int = 0) -> Image.Image:
    """Make one rendered page look scanned: grey, rotated, grainy, speckled, soft. Deterministic.

    The seed drives the grain and the speckle positions only; the angle is the style's, so a
    test can state the skew it checks.
    """
    rng = random.Random(f"vlm-demo-scan:{seed}")
    image = page.convert("L")
    if style.contrast != 1.0:
        # Fade around a light paper tone rather than mid-grey: toner gets lighter, paper greyer.
        image = ImageEnhance.Contrast(image).enhance(style.contrast)
    if style.angle:
        image = image.rotate(
            style.angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=int(255 * style.contrast)
        )
    if style.grain > 0:
        noise = Image.frombytes("L", image.size, rng.randbytes(image.width * image.height))
        image = Image.blend(image, noise, style.grain)
    if style.speckle > 0:
        _speckle(image, style.speckle, rng)
    if style.blur > 0:
        image = image.filter(ImageFilter.GaussianBlur(style.blur))
    return image


def _speckle(image: Image.Image, share: float, rng: random.Random) -> None:
    """Dust and dropouts: dots of 1-2 pixels, mostly dark, some light, at seeded positions."""
    width, height = image.size
    pixels = image.load()
    assert pixels is not None
    for _ in range(int(width * height * share)):
        x, y = rng.randrange(width - 1), rng.randrange(height - 1)
        value = rng.randint(0, 70) if rng.random() < 0.75 else rng.randint(215, 255)
        size = 2 if rng.random() < 0.3 else 1
        for dx in range(size):
            for dy in range(size):
                pixels[x + dx, y + dy] = value


def write_image(image: Image.Image, path: Path, style: ScanStyle = ScanStyle()) -> Path:
    """Write one page as PNG or JPEG (by ``path``'s suffix), with the style's dpi recorded."""
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"image path must end in one of {IMAGE_SUFFIXES}, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    dpi = (style.dpi, style.dpi)
    if suffix == ".png":
        # Fast deflate: a noisy page barely compresses, and level 6 costs ten times the time.
        image.save(path, format="PNG", dpi=dpi, compress_level=1)
    else:
        image.save(path, format="JPEG", dpi=dpi, quality=style.jpeg_quality)
    return path


class _ScanPDF(FPDF):
    """FPDF with a file identifier derived from the page images (fpdf2's default is random)."""

    def __init__(self, file_id: str) -> None:
        super().__init__(unit="mm")
        self._fixed_id = file_id

    def file_id(self) -> str:
        return f"<{self._fixed_id}><{self._fixed_id}>"


def write_image_pdf(images: Sequence[Image.Image], path: Path, style: ScanStyle = ScanStyle()) -> Path:
    """Write an image-only PDF: one JPEG per page sized at the style's dpi, no text, no XML."""
    if not images:
        raise ValueError("an image-only PDF needs at least one page image")
    jpegs = []
    for image in images:
        buffer = io.BytesIO()
        image.convert("L").save(buffer, format="JPEG", quality=style.jpeg_quality)
        jpegs.append(buffer.getvalue())
    pdf = _ScanPDF(hashlib.md5(b"".join(jpegs), usedforsecurity=False).hexdigest().upper())
    pdf.set_creation_date(_PDF_DATE)
    pdf.set_producer("airflow-provider-vlm demo scanner")
    pdf.set_creator("airflow-provider-vlm demo scanner")
    pdf.set_margins(0, 0, 0)
    pdf.set_auto_page_break(False)
    for image, jpeg in zip(images, jpegs, strict=True):
        width = image.width / style.dpi * _MM_PER_INCH
        height = image.height / style.dpi * _MM_PER_INCH
        pdf.add_page(format=(width, height))
        pdf.image(io.BytesIO(jpeg), x=0, y=0, w=width, h=height)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(pdf.output()))
    return path


def scan_pdf(
    source: Path | bytes,
    dest: Path,
    style: ScanStyle = ScanStyle(),
    seed: int = 0,
    *,
    all_pages: bool = False,
) -> list[Path]:
    """Render ``source`` (a PDF), make each page look scanned, write ``dest`` (.pdf/.png/.jpg).

    A PDF destination gets every page; an image destination gets the first page, or with
    ``all_pages`` one file per page named ``<stem>-p<n><suffix>``. Page ``n`` uses seed
    ``seed + n`` so pages differ. Returns the written paths.
    """
    suffix = dest.suffix.lower()
    if suffix != ".pdf" and suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"dest must end in .pdf or one of {IMAGE_SUFFIXES}, got {dest.name!r}")
    pages = render_pages(source, style.dpi)
    if suffix != ".pdf" and not all_pages:
        pages = pages[:1]
    scanned = [make_scanned(page, style, seed + number) for number, page in enumerate(pages)]
    if suffix == ".pdf":
        return [write_image_pdf(scanned, dest, style)]
    if len(scanned) == 1 and not all_pages:
        return [write_image(scanned[0], dest, style)]
    return [
        write_image(image, dest.with_name(f"{dest.stem}-p{number}{dest.suffix}"), style)
        for number, image in enumerate(scanned, start=1)
    ]


def has_text_layer(pdf: bytes | Path) -> bool:
    """Whether any page of ``pdf`` has extractable text (a scan must not)."""
    data = pdf.read_bytes() if isinstance(pdf, Path) else pdf
    document = pdfium.PdfDocument(data)
    try:
        for index in range(len(document)):
            page = document[index]
            text_page = page.get_textpage()
            try:
                if text_page.get_text_range().strip():
                    return True
            finally:
                text_page.close()
                page.close()
        return False
    finally:
        document.close()
