"""Held-out accuracy of the dev server's scan path: real e-invoices, scanned, over raw HTTP.

    python bench/ocr_accuracy.py [--data DIR] [--variants pdf-skew-speckle,png-skew-speckle,...]
                                 [--limit N] [--every N [--offset K]] [--concurrency 4] [--json FILE]
    make ocr-accuracy                  # all invoices and variants, fails below 80 %

The real e-invoices beside the project (``../shared/data/invoices/zugferd/correct/``) carry their
ground truth in their embedded XML. Each is rendered and degraded by the demo's scan maker
(``vlm_demo.scans``) into a temporary folder (removed afterwards; nothing is written beside the
data): an image-only PDF (no text layer, no XML) or PNG pages, skewed by a seeded 1-2 degrees
either way and/or speckled. Each file is posted with plain httpx, as any client would, to a dev
server started on a free loopback port: a PDF through ``POST /files`` + ``POST
/document/generate``, PNG pages through ``POST /image/generate`` (data URLs), domain
``document.invoice``, ``batch=true``, then ``GET /predictions/{id}`` until it ends. Invoice id,
issue date and total are scored against the XML, per variant, with every error counted.

The ``pdf-text`` variant keeps the text layer and drops only the XML: it checks the harness
against the dev server's text engine, without OCR.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import re
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx
from pypdf import PdfReader, PdfWriter

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "example_dags")]

from airflow_provider_vlm.devserver import process as devserver  # noqa: E402
from bench._cpu import tree_cpu_seconds  # noqa: E402
from vlm_demo.scans import ScanStyle, scan_pdf  # noqa: E402

KEY = "bench-key"
DOMAIN = "document.invoice"
#: The held-out set: real e-invoices whose embedded XML is the ground truth.
DATA = ROOT.parent / "shared" / "data" / "invoices" / "zugferd" / "correct"
FIELDS: tuple[str, ...] = ("invoice_id", "invoice_issue_date", "total_amount")
TERMINAL = frozenset({"completed", "failed"})


# --------------------------------------------------------------------------- ground truth


@dataclass(frozen=True)
class Truth:
    """What the embedded XML says: the fields scored."""

    invoice_id: str
    invoice_issue_date: str  # ISO 8601
    total_amount: Decimal


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(element: ET.Element, *path: str) -> ET.Element | None:
    """First descendant along ``path`` of local names (namespaces ignored: CII, ZUGFeRD 1, UBL)."""
    current: ET.Element | None = element
    for name in path:
        if current is None:
            return None
        current = next((child for child in current if _local(child.tag) == name), None)
    return current


def _first(element: ET.Element, name: str) -> ET.Element | None:
    return next((node for node in element.iter() if _local(node.tag) == name), None)


def _xml_date(text: str) -> str:
    text = text.strip()
    if re.fullmatch(r"\d{8}", text):
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text[:10]


def truth_from_xml(data: bytes) -> Truth:
    """Invoice id, issue date and grand total of a CII (Factur-X/ZUGFeRD 2), ZUGFeRD 1 or UBL invoice."""
    root = ET.fromstring(data)
    if _local(root.tag) == "Invoice":  # UBL (XRechnung)
        ident = _find(root, "ID")
        issued = _find(root, "IssueDate")
        total = _find(root, "LegalMonetaryTotal", "TaxInclusiveAmount")
    else:  # CII: rsm:ExchangedDocument (ZUGFeRD 2) or rsm:HeaderExchangedDocument (ZUGFeRD 1)
        document = _find(root, "ExchangedDocument")
        if document is None:
            document = _find(root, "HeaderExchangedDocument")
        ident = _find(document, "ID") if document is not None else None
        issued = _first(document, "DateTimeString") if document is not None else None
        total = _first(root, "GrandTotalAmount")
    if ident is None or issued is None or total is None or not (ident.text and issued.text and total.text):
        raise ValueError("the XML lacks an invoice id, an issue date or a grand total")
    return Truth(ident.text.strip(), _xml_date(issued.text), Decimal(total.text.strip()))


def embedded_xml(pdf: Path) -> bytes | None:
    """The embedded invoice XML of ``pdf`` (the first ``.xml`` attachment), if any."""
    attachments = PdfReader(pdf).attachments
    for name in sorted(attachments):
        if name.lower().endswith(".xml") and attachments[name]:
            return attachments[name][0]
    return None


def truth_of(pdf: Path) -> Truth | None:
    xml = embedded_xml(pdf)
    return truth_from_xml(xml) if xml is not None else None


def not_printed(pdf: Path, truth: Truth) -> str | None:
    """Why ``pdf`` cannot be scored, when its page does not show its own XML's invoice id (a test
    file whose picture and XML were made apart); None when it does. A scan can only read what
    the page shows."""
    shown = "".join("".join(page.extract_text() or "" for page in PdfReader(pdf).pages).split())
    if "".join(truth.invoice_id.split()).casefold() in shown.casefold():
        return None
    return f"its page does not show its XML's invoice id {truth.invoice_id!r}"


def held_out(sources: Iterable[Path]) -> tuple[list[tuple[Path, Truth]], list[str]]:
    """The invoices that can be scored, each with its truth, and why each other one cannot."""
    truths: list[tuple[Path, Truth]] = []
    skipped: list[str] = []
    for source in sources:
        try:
            truth = truth_of(source)
        except (ValueError, ET.ParseError) as error:
            skipped.append(f"{source.name}: {error}")
            continue
        if truth is None:
            skipped.append(f"{source.name}: no embedded XML")
            continue
        reason = not_printed(source, truth)
        if reason is not None:
            skipped.append(f"{source.name}: {reason}")
            continue
        truths.append((source, truth))
    return truths, skipped


# --------------------------------------------------------------------------- variants


@dataclass(frozen=True)
class Variant:
    """One way of turning an e-invoice into what the server gets."""

    name: str
    kind: str  # "pdf" (image-only PDF), "png" (one PNG per page) or "text" (text layer, no XML)
    skew: bool
    speckle: bool


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("pdf-skew-speckle", "pdf", skew=True, speckle=True),
        Variant("png-skew-speckle", "png", skew=True, speckle=True),
        Variant("pdf-skew", "pdf", skew=True, speckle=False),
        Variant("pdf-speckle", "pdf", skew=False, speckle=True),
        Variant("pdf-text", "text", skew=False, speckle=False),
    )
}
DEFAULT_VARIANTS = ("pdf-skew-speckle", "png-skew-speckle", "pdf-skew", "pdf-speckle")


def seed_of(name: str) -> int:
    """A seed from the file name, so every run degrades a file the same way."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


def style_for(variant: Variant, seed: int) -> ScanStyle:
    """The variant's degradation; skew is 1-2 degrees, its sign and size drawn from the seed."""
    rng = random.Random(seed)
    angle = rng.uniform(1.0, 2.0) * rng.choice((-1, 1)) if variant.skew else 0.0
    base = ScanStyle(angle=angle)
    if not variant.speckle:
        base = base.with_(speckle=0.0, grain=0.0)
    return base


@dataclass
class Case:
    source: str  # file name in the data folder
    variant: str
    files: list[Path]
    truth: Truth
    pages: int


def prepare(source: Path, variant: Variant, truth: Truth, workdir: Path) -> Case:
    """Write ``source`` as ``variant`` into ``workdir``."""
    seed = seed_of(source.name)
    stem = workdir / variant.name / source.stem
    stem.parent.mkdir(parents=True, exist_ok=True)
    if variant.kind == "text":
        writer = PdfWriter()
        for page in PdfReader(source).pages:
            writer.add_page(page)
        out = stem.with_suffix(".pdf")
        with out.open("wb") as handle:
            writer.write(handle)
        files = [out]
    elif variant.kind == "pdf":
        files = scan_pdf(source, stem.with_suffix(".pdf"), style_for(variant, seed), seed)
    else:
        files = scan_pdf(source, stem.with_suffix(".png"), style_for(variant, seed), seed, all_pages=True)
    pages = len(PdfReader(source).pages)
    return Case(source.name, variant.name, files, truth, pages)


# --------------------------------------------------------------------------- raw HTTP


def submit(http: httpx.Client, case: Case) -> str:
    """Create the prediction as a plain HTTP client would; return its id."""
    body: dict[str, Any] = {"model": "vlm-1", "domain": DOMAIN, "batch": True}
    if case.files[0].suffix == ".png":
        body["images"] = [
            "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode() for path in case.files
        ]
        reply = http.post("/image/generate", json=body)
    else:
        path = case.files[0]
        upload = http.post(
            "/files",
            params={"purpose": "assistants"},
            files={"file": (path.name, path.read_bytes(), "application/pdf")},
        )
        upload.raise_for_status()
        body["file_id"] = upload.json()["id"]
        reply = http.post("/document/generate", json=body)
    reply.raise_for_status()
    return str(reply.json()["id"])


@dataclass
class Outcome:
    source: str
    variant: str
    pages: int
    status: str  # completed, failed, error (HTTP), timeout
    message: str = ""
    got: dict[str, Any] = field(default_factory=dict)
    right: dict[str, bool] = field(default_factory=dict)


def _same_id(got: Any, want: str) -> bool:
    return isinstance(got, str) and re.sub(r"\s+", "", got).casefold() == re.sub(r"\s+", "", want).casefold()


def _same_total(got: Any, want: Decimal) -> bool:
    try:
        return got is not None and abs(Decimal(str(got)) - want) <= Decimal("0.005")
    except (InvalidOperation, ValueError):
        return False


def score(response: dict[str, Any], truth: Truth) -> dict[str, bool]:
    """Each scored field right or not: id ignoring case and spaces, ISO date, total to the cent."""
    return {
        "invoice_id": _same_id(response.get("invoice_id"), truth.invoice_id),
        "invoice_issue_date": str(response.get("invoice_issue_date") or "")[:10] == truth.invoice_issue_date,
        "total_amount": _same_total(response.get("total_amount"), truth.total_amount),
    }


def run_cases(base_url: str, cases: Sequence[Case], deadline: float, concurrency: int = 4) -> list[Outcome]:
    """Submit every case, then poll them all until each ends or ``deadline`` (monotonic) passes.

    The dev server reads a document while it creates the prediction, so a create returns only
    once OCR is done; ``concurrency`` creates in flight keep its OCR workers busy.
    """
    outcomes = [Outcome(case.source, case.variant, case.pages, "error") for case in cases]
    pending: dict[str, tuple[Case, Outcome]] = {}
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=900.0) as http:

        def create(number: int) -> None:
            case, outcome = cases[number], outcomes[number]
            try:
                pending[submit(http, case)] = (case, outcome)
            except httpx.HTTPStatusError as error:
                outcome.message = f"HTTP {error.response.status_code}: {error.response.text[:300]}"
            except httpx.HTTPError as error:
                outcome.message = f"{type(error).__name__}: {error}"[:300]

        with ThreadPoolExecutor(max(1, concurrency)) as pool:
            list(pool.map(create, range(len(cases))))
        while pending and time.monotonic() < deadline:
            for prediction_id in list(pending):
                case, outcome = pending[prediction_id]
                reply = http.get(f"/predictions/{prediction_id}")
                if reply.status_code != 200:
                    outcome.message = f"GET /predictions/{prediction_id}: HTTP {reply.status_code}"
                    del pending[prediction_id]
                    continue
                record = reply.json()
                if record["status"] not in TERMINAL:
                    continue
                del pending[prediction_id]
                outcome.status = record["status"]
                response = record.get("response") or {}
                if record["status"] == "failed":
                    outcome.message = str(record.get("message") or response)[:300]
                    continue
                outcome.got = {name: response.get(name) for name in FIELDS}
                outcome.right = score(response, case.truth)
            if pending:
                time.sleep(0.5)  # a polling interval, not a wait for an outcome
        for _case, outcome in pending.values():
            outcome.status, outcome.message = "timeout", "no end before the deadline"
    return outcomes


# --------------------------------------------------------------------------- report


def table(outcomes: Iterable[Outcome], variants: Sequence[str]) -> list[dict[str, Any]]:
    """One row per variant and one for all: counts, errors and each field's share right."""
    rows = []
    outcomes = list(outcomes)
    for name in [*variants, "all"]:
        mine = [o for o in outcomes if name in ("all", o.variant)]
        if not mine:
            continue
        row: dict[str, Any] = {
            "variant": name,
            "files": len(mine),
            "pages": sum(o.pages for o in mine),
            "errors": sum(o.status != "completed" for o in mine),
        }
        for name_ in FIELDS:
            row[name_] = sum(o.right.get(name_, False) for o in mine) / len(mine)
        rows.append(row)
    return rows


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    print(f"| variant | files | pages | errors | {' | '.join(FIELDS)} |")
    print(f"|---|---:|---:|---:|{'---:|' * len(FIELDS)}")
    for row in rows:
        shares = " | ".join(f"{100 * row[name]:.1f} %" for name in FIELDS)
        print(f"| {row['variant']} | {row['files']} | {row['pages']} | {row['errors']} | {shares} |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA, help="folder of e-invoice PDFs with embedded XML")
    parser.add_argument(
        "--variants", default=",".join(DEFAULT_VARIANTS), help=f"comma-separated, of: {', '.join(VARIANTS)}"
    )
    parser.add_argument("--limit", type=int, default=0, help="use only the first N invoices (0: all)")
    parser.add_argument(
        "--every", type=int, default=1, help="use every N-th invoice by name (default 1: all)"
    )
    parser.add_argument(
        "--offset",
        type=int,
        default=0,
        help="with --every N, start at the K-th invoice by name (0..N-1): --every 2 --offset 1 is the "
        "other half of --every 2, to check on invoices the extraction was not tuned on",
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds for the whole run to end")
    parser.add_argument("--concurrency", type=int, default=4, help="creates in flight (default 4)")
    parser.add_argument("--json", type=Path, help="also write every outcome and the table here")
    parser.add_argument("--min-share", type=float, default=0.0, help="exit 1 if a field is below this")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"no held-out invoices at {args.data}: nothing to score", file=sys.stderr)
        return 2
    names = [name.strip() for name in args.variants.split(",") if name.strip()]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")

    every = max(1, args.every)
    if not 0 <= args.offset < every:
        parser.error(f"--offset must be between 0 and {every - 1} (--every {every})")
    sources = sorted(args.data.glob("*.pdf"))[args.offset :: every]
    truths, skipped = held_out(sources)
    if args.limit:
        truths = truths[: args.limit]

    with tempfile.TemporaryDirectory(prefix="vlm-ocr-accuracy-") as tmp:
        started = time.perf_counter()
        cases = [
            prepare(source, VARIANTS[name], truth, Path(tmp)) for name in names for source, truth in truths
        ]
        render_seconds = time.perf_counter() - started
        with devserver.running("--api-key", KEY, "--processing-time", "0") as server:
            cpu_before = tree_cpu_seconds(server.process.pid)
            started = time.perf_counter()
            outcomes = run_cases(server.base_url, cases, time.monotonic() + args.timeout, args.concurrency)
            wall = time.perf_counter() - started
            server_cpu = tree_cpu_seconds(server.process.pid) - cpu_before
    rows = table(outcomes, names)
    pages = sum(case.pages for case in cases)
    print(
        f"{len(truths)} held-out invoices x {len(names)} variants = {len(cases)} files, {pages} pages; "
        f"rendering {render_seconds:.1f} s; server {wall:.1f} s wall, {server_cpu:.1f} CPU-s with its OCR workers "
        f"({server_cpu / max(pages, 1):.2f} CPU-s per page)"
    )
    if skipped:
        print(f"not scored ({len(skipped)}): " + "; ".join(skipped))
    print_table(rows)
    wrong = [o for o in outcomes if o.status != "completed" or not all(o.right.values())]
    for outcome in wrong:
        misses = [name for name in FIELDS if not outcome.right.get(name)]
        print(
            f"  {outcome.variant} {outcome.source}: {outcome.status} {outcome.message} misses {misses} got {outcome.got}"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"table": rows, "outcomes": [asdict(o) for o in outcomes], "skipped": skipped},
                indent=2,
                default=str,
            )
        )
    below = [row for row in rows if any(row[name] < args.min_share for name in FIELDS) or row["errors"]]
    return 1 if args.min_share and below else 0


if __name__ == "__main__":
    sys.exit(main())
