"""``python -m soak`` (``make soak``): the full soak; ``--help`` lists the knobs.

Exits 0 when nothing was lost, nothing duplicated, every run succeeded and every planned fault
was injected; 1 otherwise; 2 when the deployment could not be brought up.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from soak import report as reporting
from soak.chaos import KINDS
from soak.deploy import Settings
from soak.run import ROOT, Workload, run


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m soak", description=__doc__)
    p.add_argument("--docs", type=int, default=int(os.environ.get("SOAK_DOCS", "2000")),
                   help="invoices in the night's folder (default $SOAK_DOCS or 2000)")  # fmt: skip
    p.add_argument("--mapped", type=int, default=50, help="documents of the mapped DAG (default 50)")
    p.add_argument(
        "--sense", type=int, default=20, help="documents of the submit-then-sense DAG (default 20)"
    )
    p.add_argument("--seed", type=int, default=int(os.environ.get("SOAK_SEED", "2026")))
    p.add_argument("--outage", type=float, default=330.0, help="seconds of the API outage (default 330)")
    p.add_argument("--processing-time", type=float, default=None,
                   help="dev server seconds per prediction (default: the outage + 150)")  # fmt: skip
    p.add_argument("--executor", default="CeleryExecutor", choices=("CeleryExecutor", "LocalExecutor"))
    p.add_argument("--storage", default="s3", choices=("s3", "file"))
    p.add_argument("--plan", default=",".join(KINDS), help=f"faults in order (default {','.join(KINDS)})")
    p.add_argument("--no-api-faults", action="store_true", help="no random 5xx/429/dropped connections")
    p.add_argument("--workdir", type=Path, default=Path(".soak"), help="logs and state (default .soak)")
    p.add_argument("--report", type=Path, default=Path("soak-report.json"))
    p.add_argument("--docs-page", type=Path, default=ROOT / "docs" / "reliability.md",
                   help="page whose soak table is replaced (default docs/reliability.md)")  # fmt: skip
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    workdir = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    plan = [k for k in args.plan.split(",") if k]
    unknown = set(plan) - set(KINDS)
    if unknown:
        raise SystemExit(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    rates = (0.0, 0.0, 0.0) if args.no_api_faults else (0.20, 0.10, 0.05)
    settings = Settings(
        workdir,
        executor=args.executor,
        storage=args.storage,
        seed=args.seed,
        processing_time=args.processing_time if args.processing_time is not None else args.outage + 150,
        error_rate=rates[0],
        rate_limit_rate=rates[1],
        drop_rate=rates[2],
    )
    work = Workload(docs=args.docs, mapped_docs=args.mapped, sense_docs=args.sense, plan=plan,
                    outage_s=args.outage)  # fmt: skip
    try:
        result = run(settings, work, args.docs_page)
    except KeyboardInterrupt:
        print("soak interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"soak failed before it could report: {exc}", file=sys.stderr)
        return 2
    reporting.write(result, args.report)
    print(reporting.table(result))
    print(f"report: {args.report.resolve()}  logs: {workdir / 'logs'} and {workdir / 'airflow'}")
    injected = {f["kind"] for f in result["faults"]}
    missing = [k for k in plan if k not in injected]
    if missing:
        print(f"faults planned but not injected: {missing}", file=sys.stderr)
    return 0 if reporting.ok(result) and not missing else 1


if __name__ == "__main__":
    raise SystemExit(main())
