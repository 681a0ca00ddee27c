"""The README's main job: ``python -m vlm_demo`` runs the nightly DAG end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, INVOICES

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
            "--processing-time",
            "1",
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
    for entry in entries:
        response = by_file[entry["file"]]["response"]
        assert response["total_amount"] == pytest.approx(entry["total_amount"])
        problems = by_file[entry["file"]]["problems"]
        if entry["bad"] == "missing_invoice_id":
            assert "missing invoice_id" in problems
        # Every deliberately bad invoice is flagged, embedded XML or text layer; no good one is.
        assert bool(problems) == (entry["bad"] is not None), (entry, problems)
    issuers = json.loads((out / "issuer_summary.json").read_text())
    assert sum(i["count"] for i in issuers) == 8
    flagged = {e["file"] for e in entries if e["bad"]}
    assert flagged
    for name in flagged:
        assert name in stdout
    assert "Output files:" in stdout and "issuer_summary.json" in stdout


@pytest.mark.timeout(600)
def test_demo_on_real_invoices(tmp_path: Path) -> None:
    correct = sorted((INVOICES / "zugferd" / "correct").glob("*.pdf"))[:6]
    broken = sorted((INVOICES / "zugferd" / "fail").glob("*.pdf"))[:2]
    day = tmp_path / "inbox" / DAY
    day.mkdir(parents=True)
    for pdf in [*correct, *broken]:
        shutil.copy(pdf, day / pdf.name)
    (day / "notes.pdf").write_bytes(b"this is not a PDF")
    _run_demo(tmp_path / "work", "--source", str(tmp_path / "inbox"))
    out = tmp_path / "work/airflow/vlm_demo/output" / DAY
    rows = {
        json.loads(line)["input"].rsplit("/", 1)[-1]: json.loads(line)
        for line in (out / "invoices.jsonl").read_text().splitlines()
    }
    assert len(rows) == 9
    for pdf in correct:
        assert rows[pdf.name]["status"] == "completed"
        assert rows[pdf.name]["response"]["invoice_id"]
    assert rows["notes.pdf"]["status"] != "completed"
    summary = json.loads((out / "extractions" / "summary.json").read_text())
    assert summary["total"] == 9
    assert "notes.pdf" in " ".join(i["input"] for i in summary["failed_inputs"])
