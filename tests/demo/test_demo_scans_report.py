"""``make demo``'s scans section: which invoices the server read by OCR, and where they went.

The section is built from the night's ``invoices.jsonl`` (the DAG's own rows), so it is checked
on rows as the DAG writes them: a scan is told by the engine mark of its response, never by its
file name, and whether it went to review is the DAG's decision, reported as made.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vlm_demo.run import scans_section


def _row(name: str, engine: str, problems: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "input": f"file:///inbox/2026-11-27/{name}",
        "problems": problems,
        "response": {
            "_devserver": {"engine": engine},
            "invoice_id": "NLS-2026-00123",
            "invoice_issue_date": "2026-11-25",
            "total_amount": 8114.88,
        },
    }


def test_scans_are_told_by_the_engine_mark_and_reported_with_their_review(tmp_path: Path) -> None:
    unsure = {"field": "invoice_id", "why": "confidence", "message": "invoice_id confidence 0.50 ..."}
    rule = {"field": "invoice_id", "why": "rule", "message": "missing invoice_id"}
    rows = [
        _row("INV-004.pdf", "invoice-ocr", [unsure]),
        _row("scan-of-the-day.pdf", "invoice-text", [unsure]),  # a text PDF, whatever its name
        _row("INV-010.pdf", "invoice-ocr", [unsure, rule]),
        _row("INV-011.pdf", "invoice-ocr", []),
        _row("INV-012.pdf", "invoice-xml", []),
    ]
    rows_file = tmp_path / "invoices.jsonl"
    rows_file.write_text("".join(json.dumps(row) + "\n" for row in rows))

    head, *lines = scans_section(rows_file).splitlines()

    assert head.startswith("Scans read by OCR: 3 ")
    assert [line.split()[0] for line in lines] == ["INV-004.pdf", "INV-010.pdf", "INV-011.pdf"]
    assert "NLS-2026-00123" in lines[0] and "8114.88" in lines[0]
    assert lines[0].endswith("-> review (confidence below the floor: invoice_id)")
    assert lines[1].endswith("-> review (confidence below the floor: invoice_id; missing invoice_id)")
    assert lines[2].endswith("-> passed the rules and the confidence floor")


def test_a_night_without_rows_has_no_scans(tmp_path: Path) -> None:
    assert scans_section(tmp_path / "absent.jsonl").splitlines() == [
        "Scans read by OCR: 0 (image-only PDFs; OCR'd fields carry a lower confidence)"
    ]
