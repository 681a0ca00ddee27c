"""The README's main job: ``python -m vlm_demo`` runs the nightly DAG end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.invoices import REAL_INVOICES, InvoiceSet, needs_real_invoices

DAY = "2026-11-20"


def _run_demo(workdir: Path, *args: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "vlm_demo",
            "--workdir",
            str(workdir),
            "--day",
            DAY,
            # The demo's own option: the night's predictions end at once (none of these tests is about waiting).
            "--processing-time",
            "0.1",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(EXAMPLES)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.timeout(600)
def test_demo_on_generated_samples(tmp_path: Path) -> None:
    stdout = _run_demo(tmp_path, "--count", "8")
    manifest = json.loads((tmp_path / "airflow/vlm_demo/inbox" / DAY / "manifest.json").read_text())
    entries = manifest["invoices"] if isinstance(manifest, dict) else manifest
    out = tmp_path / "airflow/vlm_demo/output" / DAY
    rows = [json.loads(line) for line in (out / "invoices.jsonl").read_text().splitlines()]
    assert len(rows) == len(entries) == 8
    assert all(r["status"] == "completed" for r in rows)
    by_file = {r["input"].rsplit("/", 1)[-1]: r for r in rows}
    assert sum(e.get("scanned", False) for e in entries) == 3  # the demo's default
    for entry in entries:
        response = by_file[entry["file"]]["response"]
        problems = by_file[entry["file"]]["problems"]
        if entry.get("scanned"):
            # A scan is read by OCR: whatever it read, its fields are unsure, so a person sees it.
            # What OCR reads on the generated scans is pinned in tests/demo/test_scan_extraction.py.
            assert any(p["why"] == "confidence" for p in problems), (entry, problems)
            continue
        assert response["total_amount"] == pytest.approx(entry["total_amount"])
        if entry["bad"] == "missing_invoice_id":
            assert {
                "field": "invoice_id",
                "message": "missing invoice_id",
                "rule": "required_fields",
                "why": "rule",
            } in problems
        # Every deliberately bad invoice fails a rule, embedded XML or text layer; no good one does.
        rule_problems = [p for p in problems if p["why"] == "rule"]
        assert bool(rule_problems) == (entry["bad"] is not None), (entry, problems)
        # What the server read from an e-invoice's XML is certain: only text-layer guesses go to
        # review for confidence, each naming its field.
        unsure = [p for p in problems if p["why"] == "confidence"]
        if entry["embedded"]:
            assert unsure == [], (entry, problems)
        assert all(f"{p['field']} confidence" in p["message"] for p in unsure), unsure
    issuers = json.loads((out / "issuer_summary.json").read_text())
    assert sum(i["count"] for i in issuers) == 8
    flagged = {e["file"] for e in entries if e["bad"]}
    assert flagged
    for name in flagged:
        assert name in stdout
    # The sample night holds text-only invoices the server was unsure of: the printed report
    # names them and says why; and it gives the night's bill by tier.
    to_review = {n for n, row in by_file.items() if any(p["why"] == "confidence" for p in row["problems"])}
    assert to_review
    scans = {e["file"] for e in entries if e.get("scanned")}
    for line in stdout.splitlines():
        name = line.strip().split(" ", 1)[0]
        if name in to_review:
            # The report marks the reason; the scans section says what OCR read and why it goes to review.
            assert "[confidence]" in line or (name in scans and "-> review (confidence" in line), line
    assert "Credits billed: " in stdout and " at flex" in stdout
    assert "Output files:" in stdout and "issuer_summary.json" in stdout


def _stage_generated(day: Path, invoice_set: InvoiceSet) -> tuple[dict[str, str | None], list[str]]:
    """The generated e-invoices and text-only PDFs, with a broken XML, a truncated PDF and a non-PDF."""
    for invoice in invoice_set.good:
        shutil.copy(invoice.path, day / invoice.path.name)
    for broken in (invoice_set.broken_xml, invoice_set.truncated):
        shutil.copy(broken, day / broken.name)
    good = {invoice.path.name: invoice.invoice_id for invoice in invoice_set.good}
    return good, [invoice_set.broken_xml.name, invoice_set.truncated.name]


def _stage_real(day: Path) -> tuple[dict[str, str | None], list[str]]:
    """Six correct real e-invoices and two whose XML is invalid (ids checked present, not exact)."""
    correct = sorted((REAL_INVOICES / "zugferd" / "correct").glob("*.pdf"))[:6]
    broken = sorted((REAL_INVOICES / "zugferd" / "fail").glob("*.pdf"))[:2]
    for pdf in [*correct, *broken]:
        shutil.copy(pdf, day / pdf.name)
    return {pdf.name: None for pdf in correct}, []


@pytest.mark.timeout(600)
@pytest.mark.parametrize("source", ["generated", pytest.param("real", marks=needs_real_invoices)])
def test_demo_on_a_folder_of_invoices(tmp_path: Path, invoice_set: InvoiceSet, source: str) -> None:
    """``--source``: a folder the user filled, broken files included; each gets its own result."""
    day = tmp_path / "inbox" / DAY
    day.mkdir(parents=True)
    good, failed = _stage_generated(day, invoice_set) if source == "generated" else _stage_real(day)
    (day / "notes.pdf").write_bytes(b"this is not a PDF")
    staged = len(list(day.iterdir()))
    _run_demo(tmp_path / "work", "--source", str(tmp_path / "inbox"))
    out = tmp_path / "work/airflow/vlm_demo/output" / DAY
    rows = {
        json.loads(line)["input"].rsplit("/", 1)[-1]: json.loads(line)
        for line in (out / "invoices.jsonl").read_text().splitlines()
    }
    assert len(rows) == staged
    for name, invoice_id in good.items():
        assert rows[name]["status"] == "completed"
        found = rows[name]["response"]["invoice_id"]
        assert found and (invoice_id is None or found == invoice_id), (name, found)  # None: any id
    for name in [*failed, "notes.pdf"]:
        assert rows[name]["status"] != "completed", rows[name]
    summary = json.loads((out / "extractions" / "summary.json").read_text())
    assert summary["total"] == staged
    failed_inputs = " ".join(i["input"] for i in summary["failed_inputs"])
    assert all(name in failed_inputs for name in [*failed, "notes.pdf"])
