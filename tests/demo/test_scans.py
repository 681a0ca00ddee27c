"""The scan maker: image-only output (no text, no XML), reproducible bytes, the skew it claims."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from vlm_demo.samples import generate_samples
from vlm_demo.scans import CLEAN, ScanStyle, has_text_layer, make_scanned, render_pages, scan_pdf

DAY = date(2026, 1, 15)


@pytest.fixture(scope="module")
def e_invoice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated invoice with a text layer and embedded Factur-X XML."""
    out = tmp_path_factory.mktemp("scan-src")
    (first, *_) = generate_samples(out, count=1, day=DAY, embed_every=1, bad=0)
    return first.path


def test_scanned_pdf_has_no_text_layer_and_no_embedded_xml(e_invoice: Path, tmp_path: Path) -> None:
    assert has_text_layer(e_invoice)  # the source has both, so the checks below can fail
    assert PdfReader(e_invoice).attachments

    (scan,) = scan_pdf(e_invoice, tmp_path / "scan.pdf", seed=1)

    assert not has_text_layer(scan)
    reader = PdfReader(scan)
    assert not reader.attachments
    assert all(not page.extract_text().strip() for page in reader.pages)
    assert len(reader.pages) == len(PdfReader(e_invoice).pages)
    assert all(page.images for page in reader.pages)


def test_same_seed_same_bytes_other_seed_other_speckle(e_invoice: Path, tmp_path: Path) -> None:
    for name in ("a.pdf", "b.pdf", "c.pdf", "a.png", "b.png"):
        seed = 2 if name.startswith("c") else 1
        scan_pdf(e_invoice, tmp_path / name, seed=seed)
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (tmp_path / "a.pdf").read_bytes() != (tmp_path / "c.pdf").read_bytes()


def test_image_output_is_grayscale_at_the_style_dpi(e_invoice: Path, tmp_path: Path) -> None:
    style = ScanStyle(dpi=100)
    (png,) = scan_pdf(e_invoice, tmp_path / "scan.png", style, seed=3)
    (jpeg,) = scan_pdf(e_invoice, tmp_path / "scan.jpg", style, seed=3)
    with Image.open(png) as image:
        assert image.mode == "L"
        # A4 at 100 dpi: 827 x 1169 pixels.
        assert image.size == pytest.approx((827, 1169), abs=1)
        assert image.info["dpi"] == pytest.approx((100, 100), abs=0.1)
    with Image.open(jpeg) as image:
        assert image.format == "JPEG"


COLUMNS = (200, 300, 400, 500)


def _ink_rows(image: Image.Image) -> list[int]:
    """For each of :data:`COLUMNS`, the first row with ink: a level bar gives equal rows."""
    pixels = image.load()
    assert pixels is not None
    return [next(y for y in range(image.height) if pixels[x, y] < 128) for x in COLUMNS]


def test_the_page_is_rotated_by_the_style_angle(tmp_path: Path) -> None:
    """A horizontal bar rendered and turned 2 degrees rises by tan(2 deg) per pixel across."""
    bar = Image.new("L", (800, 400), 255)
    bar.paste(0, (0, 190, 800, 210))
    turned = make_scanned(bar, CLEAN.with_(angle=2.0))
    left, *_, right = _ink_rows(turned)
    slope = (left - right) / (COLUMNS[-1] - COLUMNS[0])
    assert slope == pytest.approx(0.0349, abs=0.006)  # tan(2 deg); counter-clockwise: right side up
    assert _ink_rows(make_scanned(bar, CLEAN)) == [190] * 4


def test_noise_changes_pixels_but_keeps_the_page(e_invoice: Path) -> None:
    (page,) = render_pages(e_invoice, dpi=72)
    clean = make_scanned(page, CLEAN)
    noisy = make_scanned(page, ScanStyle(angle=0.0, blur=0.0, contrast=1.0, speckle=0.01, grain=0.0), seed=5)
    assert clean.tobytes() == page.tobytes()
    changed = sum(a != b for a, b in zip(clean.tobytes(), noisy.tobytes(), strict=True))
    share = changed / (page.width * page.height)
    assert 0.005 < share < 0.03  # about 1 % of the pixels hit (dots of 1-2 px), the rest intact


@pytest.mark.parametrize("dest", ["scan.tiff", "scan"])
def test_unknown_destination_kind_is_refused(e_invoice: Path, tmp_path: Path, dest: str) -> None:
    with pytest.raises(ValueError, match="must end in"):
        scan_pdf(e_invoice, tmp_path / dest)


def test_all_pages_writes_one_image_per_page(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    for text in ("first", "second"):
        pdf.add_page()
        pdf.set_font("Helvetica", size=24)
        pdf.cell(text=text)
    source = tmp_path / "two.pdf"
    pdf.output(str(source))
    written = scan_pdf(source, tmp_path / "out.png", seed=0, all_pages=True)
    assert [p.name for p in written] == ["out-p1.png", "out-p2.png"]
    (single,) = scan_pdf(source, tmp_path / "one.png", seed=0)
    assert single.name == "one.png"


def test_a_night_with_scans_turns_plain_invoices_into_scans_and_leaves_the_rest(tmp_path: Path) -> None:
    with_scans = generate_samples(tmp_path / "a", day=DAY, scanned=3)
    without = generate_samples(tmp_path / "b", day=DAY)

    scans = [invoice for invoice in with_scans if invoice.scanned]
    assert len(scans) == 3
    for invoice in scans:
        assert not invoice.embedded and invoice.bad is None  # only plain invoices become paper
        assert not has_text_layer(invoice.path)
        assert not PdfReader(invoice.path).attachments
    for scanned, plain in zip(with_scans, without, strict=True):
        # Same printed content; the other files are the very same bytes.
        assert scanned.to_manifest() == {**plain.to_manifest(), "scanned": scanned.scanned}
        if not scanned.scanned:
            assert scanned.path.read_bytes() == plain.path.read_bytes()
    again = generate_samples(tmp_path / "c", day=DAY, scanned=3)
    assert [i.path.read_bytes() for i in again] == [i.path.read_bytes() for i in with_scans]


def test_more_scans_than_plain_invoices_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scanned must be between 0 and the number of plain invoices"):
        generate_samples(tmp_path, count=4, day=DAY, scanned=4)
