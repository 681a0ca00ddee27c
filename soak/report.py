"""What survived: ``soak-report.json`` and the table in ``docs/reliability.md``.

``duplicates`` counts predictions the server created beyond one per Idempotency-Key (from
``/v1/_dev/stats``, summed over the dev server's restarts) plus predictions beyond one per
identical request (same file, domain, config: from the dev server's state file) that did not
fail, so a retry that resubmitted a live prediction under a new key counts too. ``lost`` counts
inputs without a result line.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

TABLE_START = "<!-- soak-table:start -->"
TABLE_END = "<!-- soak-table:end -->"


def submissions(stats_snapshots: Iterable[dict[str, Any]]) -> Counter[str]:
    """Predictions created per Idempotency-Key across every life of the dev server."""
    total: Counter[str] = Counter()
    for snap in stats_snapshots:
        total.update(snap.get("submissions", {}))
    return total


def state_counts(state: Path) -> tuple[int, int, int]:
    """From the dev server's state: (predictions stored, duplicates, failed ones submitted again).

    A duplicate is a second prediction that did not fail for an identical request (same file,
    domain, config) under a new key. A prediction that failed (a broken input) is submitted
    again by a retry on purpose: counted apart, not as a duplicate.
    """
    with sqlite3.connect(state) as db:
        (stored,) = db.execute("select count(*) from predictions").fetchone()
        extra, again = db.execute(
            "select coalesce(sum(max(ok - 1, 0)), 0), coalesce(sum(n - max(ok, 1)), 0) from"
            " (select count(*) n, sum(message is null) ok from predictions"
            " where idempotency_key != '' group by fingerprint)"
        ).fetchone()
    return int(stored), int(extra), int(again)


def build(
    *,
    inputs: int,
    result_lines: int,
    lost_inputs: list[str],
    stats_snapshots: list[dict[str, Any]],
    state: Path,
    runs: list[dict[str, Any]],
    task_tries: int,
    faults: list[dict[str, Any]],
    wall_s: float,
    ideal_s: float,
    settings: dict[str, Any],
) -> dict[str, Any]:
    per_key = submissions(stats_snapshots)
    stored, same_request, failed_again = state_counts(state)
    by_key = sum(n - 1 for n in per_key.values() if n > 1 and per_key)
    injected: Counter[str] = Counter()
    for snap in stats_snapshots:
        injected.update(snap.get("faults_injected", {}))
    return {
        "inputs": inputs,
        "predictions": stored,
        "duplicates": by_key + same_request,
        "lost": len(lost_inputs),
        "result_lines": result_lines,
        "runs_succeeded": sum(1 for r in runs if r["state"] == "success"),
        "faults": faults,
        "wall_s": round(wall_s, 1),
        # Beyond the report's fixed fields: what the figures above are made of.
        "ideal_s": round(ideal_s, 1),
        "runs": runs,
        "task_tries": task_tries,
        "duplicates_detail": {
            "same_idempotency_key": by_key,
            "same_request_new_key": same_request,
            "failed_prediction_submitted_again": failed_again,
        },
        "lost_inputs": lost_inputs[:50],
        "api_faults_injected": dict(injected),
        "settings": settings,
    }


def ok(report: dict[str, Any]) -> bool:
    return (
        report["lost"] == 0 and report["duplicates"] == 0 and report["runs_succeeded"] == len(report["runs"])
    )


def write(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")


def table(report: dict[str, Any]) -> str:
    kinds = Counter(f["kind"] for f in report["faults"])
    faults = ", ".join(f"{k} x{n}" if n > 1 else k for k, n in kinds.items()) or "none"
    s = report["settings"]
    rows = [
        ("inputs", report["inputs"]),
        ("predictions", report["predictions"]),
        ("duplicates", report["duplicates"]),
        ("lost", report["lost"]),
        ("result_lines", report["result_lines"]),
        ("runs_succeeded", f"{report['runs_succeeded']} of {len(report['runs'])}"),
        ("task_tries", report["task_tries"]),
        ("faults", faults),
        ("wall_s", f"{report['wall_s']} (ideal {report['ideal_s']}: one prediction's {s['processing_time']} s;"
         " the outage falls inside it)"),
        ("deployment", f"{s['executor']}, {s['workers']} workers, {s['triggerers']} triggerers, "
         f"PostgreSQL, {s['storage']}, seed {s['seed']}"),
        ("random API faults", f"{s['error_rate']:.0%} 5xx, {s['rate_limit_rate']:.0%} 429, "
         f"{s['drop_rate']:.0%} dropped"),
    ]  # fmt: skip
    lines = ["| field | value |", "|---|---|", *(f"| `{k}` | {v} |" for k, v in rows)]
    return "\n".join(lines)


def update_docs(report: dict[str, Any], page: Path) -> None:
    """Replace the table between the markers in ``docs/reliability.md`` with this run's."""
    text = page.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        return
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    page.write_text(f"{head}{TABLE_START}\n{table(report)}\n{TABLE_END}{tail}")
