"""Which OCR engine the dev server reads scans with: Tesseract against RapidOCR, same scans.

    python bench/ocr_engines.py --make 24 --scans DIR   # write seeded scans, then measure
    python bench/ocr_engines.py --scans DIR [--variants "despeckle,deskew;..."] [--misses]

``DIR`` holds scanned invoices (PDF, PNG, JPEG) and ``truth.json``: ``{file name: {invoice_id,
invoice_issue_date, total_amount}}``. ``--make N`` writes N there first: seeded German and
English invoices (labels, date and number formats of each: ``Rechnungsnummer``, ``05.03.2013``,
``1.234,56``; ``Invoice No.``, ``03/05/2013`` in dollars, ``05/03/2013`` in pounds, ``1,234.56``),
value columns apart from their labels, some on two pages, made to look scanned by the demo's scan
maker (``vlm_demo.scans``: clean, skewed 1-2.5 degrees, speckled, grainy) as image-only PDFs,
PNGs and JPEGs. They are generated, not the held-out set of ``bench/ocr_accuracy.py``. Each engine reads every page, one page at a time on one
thread (``OMP_THREAD_LIMIT=1``; onnxruntime's threads set to 1), then the dev server's own field
extraction (``scan.text_of`` + ``invoice_text``) runs on what it read. The table gives, per
engine and clean-up, how many ids, issue dates and totals are right, and seconds per page
(wall and CPU, Tesseract's child processes included). RapidOCR is measured when
``rapidocr-onnxruntime`` is installed (``pip install rapidocr-onnxruntime``: its wheel carries its
models); it is not a dependency of the project. Figures: ``docs/devserver.md``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ["OMP_THREAD_LIMIT"] = "1"
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "example_dags")]

from airflow_provider_vlm.devserver.engines import invoice_text, ocr, scan  # noqa: E402
from airflow_provider_vlm.devserver.engines.pdf import is_pdf, open_pdf  # noqa: E402

FIELDS = ("invoice_id", "invoice_issue_date", "total_amount")
#: Clean-up variants measured for Tesseract (``ocr.STEPS`` is what the server uses).
VARIANTS = (
    "",
    "despeckle",
    "deskew",
    "despeckle,deskew",
    "despeckle,deskew,binarise",
    "despeckle,deskew,upscale",
    "despeckle,deskew,sparse",
)

Reader = Callable[[bytes, "int | None"], ocr.Page]


_STYLES = (
    ("clean", {"angle": 0.0, "speckle": 0.0, "grain": 0.0, "blur": 0.0, "contrast": 1.0}),
    ("skewed", {"angle": 1.5}),
    ("speckled", {"angle": -2.5, "speckle": 0.004}),
)
_COMPANIES = {
    "de": ["Musterfirma GmbH", "Schmidt & Partner KG", "Nordlicht Handel AG"],
    "en": ["Acme Supplies Ltd", "Blue River Trading Inc.", "Harbour Office Co."],
}


def make_scans(folder: Path, count: int, seed: int = 21) -> None:
    """Write ``count`` seeded scanned invoices and their ``truth.json`` to ``folder``."""
    from fpdf import FPDF

    from vlm_demo.scans import ScanStyle, scan_pdf

    rng = random.Random(seed)
    truth: dict[str, dict[str, Any]] = {}
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        lang = "de" if n % 2 == 0 else "en"
        money = "EUR" if lang == "de" else rng.choice(["USD", "GBP"])
        day = rng.randint(1, 28)
        month, year = rng.randint(1, 12), rng.randint(2012, 2026)
        total = round(rng.uniform(20, 25000), 2)
        net = round(total / 1.19, 2)
        tax = round(total - net, 2)
        if lang == "de":
            number = f"RE-{year}-{rng.randint(1, 9999):04d}"
            id_label = rng.choice(["Rechnungsnummer:", "Rechnung Nr.", "Rechnungs-Nr.:"])
            date_text, date_label = f"{day:02d}.{month:02d}.{year}", "Rechnungsdatum:"
            sign = ""
            lines = [
                ("Nettobetrag", net),
                ("MwSt. 19 %", tax),
                (rng.choice(["Gesamtbetrag", "Rechnungsbetrag"]), total),
            ]
            title = "Rechnung"
        else:
            number = f"INV-{rng.randint(10, 99)}-{rng.randint(1000, 99999)}"
            id_label = rng.choice(["Invoice No.:", "Invoice Number:", "Invoice #"])
            us = money == "USD"
            date_text = f"{month:02d}/{day:02d}/{year}" if us else f"{day:02d}/{month:02d}/{year}"
            date_label = "Invoice Date:"
            sign = "$" if us else "£"
            lines = [
                ("Subtotal", net),
                ("Tax 19%", tax),
                (rng.choice(["Total Due", "Total", "Amount Due"]), total),
            ]
            title = "INVOICE"
        pdf = FPDF(unit="mm")
        pdf.set_auto_page_break(False)
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        company = rng.choice(_COMPANIES[lang])
        for text in (company, f"{rng.randint(1, 99)} Main Road, {rng.randint(10000, 99999)} City"):
            pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(8)
        pdf.set_font("Helvetica", "B", 16)
        pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for label, value in ((id_label, number), (date_label, date_text)):
            pdf.cell(50, 7, label)
            pdf.cell(60, 7, value, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(6)
        for item in range(rng.randint(2, 6)):
            pdf.cell(120, 7, f"{item + 1}  {rng.choice(['Consulting', 'Beratung', 'Service', 'Material'])}")
            pdf.cell(
                50, 7, _amount(round(rng.uniform(5, 900), 2), sign), align="R", new_x="LMARGIN", new_y="NEXT"
            )
        if n % 5 == 4:  # the totals on a second page
            pdf.add_page()
        pdf.ln(6)
        for label, value in lines:
            pdf.cell(120, 7, label)
            pdf.cell(50, 7, _amount(value, sign), align="R", new_x="LMARGIN", new_y="NEXT")
        style_name, changes = _STYLES[n % len(_STYLES)]
        suffix = ".pdf" if n % 5 == 4 else (".pdf", ".png", ".jpg")[(n // 3) % 3]
        name = f"{n:02d}-{lang}-{style_name}{suffix}"
        scan_pdf(bytes(pdf.output()), folder / name, ScanStyle().with_(**changes), seed=seed + n)
        truth[name] = {
            "invoice_id": number,
            "invoice_issue_date": f"{year}-{month:02d}-{day:02d}",
            "total_amount": total,
        }
    (folder / "truth.json").write_text(json.dumps(truth, indent=1))


def _amount(value: float, sign: str) -> str:
    """``$1,234.56``/``£1,234.56``, or German ``1.234,56 EUR`` (no sign)."""
    if sign:
        return f"{sign}{value:,.2f}"
    return f"{value:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") + " EUR"


def pages_of(path: Path) -> list[tuple[bytes, int | None]]:
    content = path.read_bytes()
    if is_pdf(content):
        return [(content, page) for page in range(len(open_pdf(content).pages))]
    return [(content, None)]


def tesseract(steps: tuple[str, ...]) -> Reader:
    reason, langs = ocr.unavailable()
    if reason:
        raise SystemExit(reason)
    return lambda source, page: ocr.read_page(source, page, "tesseract", langs, steps)


def rapidocr(steps: tuple[str, ...] = ()) -> Reader | None:
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        return None
    engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)

    def read(source: bytes, page: int | None) -> ocr.Page:
        image = ocr.prepared(source, page, steps).convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        found, _ = engine(buffer.getvalue())
        words = []
        for box, text, score in found or []:
            xs, ys = [p[0] for p in box], [p[1] for p in box]
            left, top = int(min(xs)), int(min(ys))
            words.append(
                ocr.Word(text, float(score) * 100, left, top, int(max(xs)) - left, int(max(ys)) - top)
            )
        return ocr.Page(image.width, image.height, tuple(words))

    return read


def cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(read: Reader, scans: dict[Path, dict[str, Any]]) -> dict[str, Any]:
    right = dict.fromkeys(FIELDS, 0)
    pages = 0
    wall, used = time.perf_counter(), cpu()
    misses: list[str] = []
    for path, truth in scans.items():
        sources = pages_of(path)
        pages += len(sources)
        text = "\n".join(scan.text_of(read(source, page)) for source, page in sources)
        found = invoice_text.parse(text)
        for field in FIELDS:
            if found.get(field) == truth[field]:
                right[field] += 1
            else:
                misses.append(f"{path.name}:{field}={found.get(field)!r}")
    wall, used = time.perf_counter() - wall, cpu() - used
    return {
        "right": right,
        "pages": pages,
        "s_page": wall / pages,
        "cpu_page": used / pages,
        "misses": misses,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--scans", type=Path, required=True, help="folder of scans with truth.json")
    p.add_argument("--rapid-variants", default=";despeckle,deskew", help="RapidOCR clean-ups, ';'-separated")
    p.add_argument("--make", type=int, metavar="N", help="first write N seeded scans to --scans")
    p.add_argument("--variants", default=";".join(VARIANTS), help="Tesseract clean-ups, ';'-separated")
    p.add_argument("--misses", action="store_true", help="print what each engine got wrong")
    args = p.parse_args(argv)
    if args.make:
        make_scans(args.scans, args.make)
    truth = json.loads((args.scans / "truth.json").read_text())
    scans = {args.scans / name: expected for name, expected in sorted(truth.items())}
    pages = sum(len(pages_of(path)) for path in scans)
    print(
        f"{len(scans)} scans, {pages} pages; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"{'engine':<40} {'id':>5} {'date':>5} {'total':>5} {'s/page':>7} {'cpu/page':>8}")
    engines: list[tuple[str, Reader]] = [
        (f"tesseract [{variant or 'none'}]", tesseract(tuple(filter(None, variant.split(",")))))
        for variant in args.variants.split(";")
    ]
    for steps in args.rapid_variants.split(";"):
        rapid = rapidocr(tuple(filter(None, steps.split(","))))
        if rapid is not None:
            engines.append((f"rapidocr-onnxruntime [{steps or 'none'}]", rapid))
    if rapid is None:
        print("(rapidocr-onnxruntime not installed: pip install rapidocr-onnxruntime to compare)")
    for name, read in engines:
        result = measure(read, scans)
        r = result["right"]
        n = len(scans)
        print(
            f"{name:<40} {r['invoice_id']:>2}/{n:<2} {r['invoice_issue_date']:>2}/{n:<2} "
            f"{r['total_amount']:>2}/{n:<2} {result['s_page']:>7.2f} {result['cpu_page']:>8.2f}",
            flush=True,
        )
        if args.misses:
            for miss in result["misses"]:
                print(f"    {miss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
