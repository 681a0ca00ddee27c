"""``make demo``: the nightly invoice DAG end to end on this machine, no account, no network.

Generates a day of sample invoices (a few of them scans: image-only PDFs, skewed and speckled),
starts the dev server on a free loopback port, runs ``vlm_nightly_invoices`` with ``airflow dags
test`` (the trigger runs in-process), prints the per-issuer summary, the scans the server read by
OCR and whether they went to review, where the files are, and stops what it started.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from airflow_provider_vlm.devserver import process as devserver
from vlm_demo.samples import generate_samples

DAG_ID = "vlm_nightly_invoices"
EXAMPLES = Path(__file__).resolve().parents[1]
API_KEY = "demo-key"
#: How the dev server marks the engine that read a document, and the name of its OCR engine.
OCR_MARK = "_devserver"
OCR_ENGINE = "invoice-ocr"


def _airflow(env: dict[str, str], log: Path, *args: str) -> None:
    with log.open("a") as sink:
        done = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise SystemExit(
            f"`airflow {' '.join(args)}` failed (exit {done.returncode}); last lines of {log}:\n{tail}"
        )


def run_logical_date(night: date) -> str:
    """The scheduled run that processes ``night``: the one at 02:00 UTC of the next day."""
    return f"{(night + timedelta(days=1)).isoformat()}T02:00:00+00:00"


def scans_section(rows_file: Path) -> str:
    """The invoices the dev server read by OCR, as it says in each response, and where they went.

    A scan is told by how the server read it (the ``_devserver`` mark of the response), not by
    its file name; whether it went to review is the DAG's own decision (``problems``), so a scan
    read well enough to pass shows as such.
    """
    rows = [json.loads(line) for line in rows_file.read_text().splitlines()] if rows_file.exists() else []
    lines = []
    for row in rows:
        response = row.get("response") or {}
        if (response.get(OCR_MARK) or {}).get("engine") != OCR_ENGINE:
            continue
        name = str(row.get("input", "")).rsplit("/", 1)[-1]
        problems = [problem for problem in row.get("problems") or [] if isinstance(problem, dict)]
        unsure = [str(p.get("field")) for p in problems if p.get("why") == "confidence"]
        rules = [str(p.get("message")) for p in problems if p.get("why") != "confidence"]
        reasons = ([f"confidence below the floor: {', '.join(unsure)}"] if unsure else []) + rules
        where = (
            "review (" + "; ".join(reasons) + ")" if reasons else "passed the rules and the confidence floor"
        )
        read = ", ".join(
            f"{field} {response.get(field)}" for field in ("invoice_id", "invoice_issue_date", "total_amount")
        )
        lines.append(f"  {name}  read {read}  -> {where}")
    head = f"Scans read by OCR: {len(lines)} (image-only PDFs; OCR'd fields carry a lower confidence)"
    return "\n".join([head, *lines])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vlm_demo", description=__doc__)
    parser.add_argument(
        "--workdir", type=Path, default=Path(".demo"), help="where everything goes (default .demo)"
    )
    parser.add_argument("--count", type=int, default=12, help="sample invoices to generate (default 12)")
    parser.add_argument(
        "--scans", type=int, default=3, help="of those, plain invoices written as scans (default 3)"
    )
    parser.add_argument(
        "--day",
        type=date.fromisoformat,
        default=datetime.now(timezone.utc).date() - timedelta(days=1),
        help="the night whose invoices are processed (default yesterday, as the 02:00 run does)",
    )
    parser.add_argument(
        "--processing-time", type=float, default=3.0, help="dev server seconds per prediction"
    )
    parser.add_argument(
        "--source",
        type=Path,
        help="use this folder's <day>/*.pdf instead of generated samples (e.g. your own invoices)",
    )
    args = parser.parse_args(argv)

    workdir = args.workdir.resolve()
    home = workdir / "airflow"
    inbox = args.source.resolve() if args.source else home / "vlm_demo" / "inbox"
    output = home / "vlm_demo" / "output"
    home.mkdir(parents=True, exist_ok=True)
    log = workdir / "airflow.log"
    log.write_text("")

    if args.source is None:
        try:
            samples = generate_samples(inbox, count=args.count, seed=2026, day=args.day, scanned=args.scans)
        except ValueError as error:
            parser.error(str(error))
        print(f"Generated {len(samples)} sample invoices in {inbox / args.day.isoformat()}")

    with devserver.running("--api-key", API_KEY, "--processing-time", str(args.processing_time)) as server:
        print(f"Dev server: {server.base_url}")
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES),
            # A deployment puts the DAG bundle on sys.path; `airflow dags test` does not.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(EXAMPLES), os.environ.get("PYTHONPATH")])),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_VLM_DEFAULT": json.dumps(
                {"conn_type": "vlm", "host": server.base_url, "password": API_KEY}
            ),
            "VLM_INVOICE_SOURCE": inbox.as_uri(),
            "VLM_INVOICE_OUTPUT": output.as_uri(),
        }
        print("Preparing the Airflow metadata DB (SQLite)…")
        _airflow(env, log, "db", "migrate")
        logical = run_logical_date(args.day)
        print(
            f"Running {DAG_ID} for the night of {args.day}, run of {logical} (airflow dags test; log: {log})…"
        )
        _airflow(env, log, "dags", "test", DAG_ID, logical)

    day_out = output / args.day.isoformat()
    report = day_out / "report.txt"
    if not report.exists():
        raise SystemExit(f"the DAG finished but wrote no report at {report}; see {log}")
    print()
    print(report.read_text().rstrip())
    print()
    print(scans_section(day_out / "invoices.jsonl"))
    print()
    print("Output files:")
    for path in sorted(p for p in day_out.rglob("*") if p.is_file()):
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
