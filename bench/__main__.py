"""``python -m bench`` (``make bench``): the benchmarks, each printing its table.

    python -m bench                 # the quick ones, one after the other (about 10 minutes)
    python -m bench NAME [ARGS...]  # one benchmark, with its own arguments (``NAME --help``)
    python -m bench --list

Each benchmark starts what it needs (the dev server, Airflow, the deployment) on 127.0.0.1 and
stops it; figures and how they were taken are in ``docs/performance.md``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: name -> (in the default run, what it measures)
BENCHMARKS: dict[str, tuple[bool, str]] = {
    "client_overhead": (True, "the client against raw httpx; async concurrency against a sync loop"),
    "trigger_size": (True, "the batch trigger's stored kwargs and its event at 1,000 and 10,000 ids"),
    "devserver_throughput": (True, "the dev server's requests per second, idle and with 1,000 in flight"),
    "thousand_waits": (True, "RSS and CPU of 1,000 concurrent PredictionTriggers in one process"),
    "autocast_collect": (True, "collect step of 10,000 results: no autocast, jsonschema-rs, jsonschema"),
    "worker_time": (False, "worker slot time per prediction: deferrable, blocking, the SDK (Airflow)"),
    "batch_vs_mapped": (False, "one batch task against one mapped task per document (Airflow)"),
    "deployment": (False, "1,000 waits on one or two triggerers; the 10,000-document nightly batch"),
    "defer_race": (False, "how often Airflow's defer race strikes, defer_after 0 s against 5 s (Airflow)"),
    "ocr_polls": (False, "OCR seconds per page; poll latency during 100 scans against an idle server"),
    "ocr_accuracy": (False, "held-out scans of real e-invoices: id, date, total right, per variant"),
}


def run(name: str, args: list[str]) -> int:
    print(f"== {name} {' '.join(args)}".rstrip(), flush=True)
    return subprocess.call([sys.executable, str(HERE / f"{name}.py"), *args])


def main(argv: list[str]) -> int:
    if argv[:1] == ["--list"]:
        for name, (quick, what) in BENCHMARKS.items():
            print(f"{name:<22} {'(default) ' if quick else '':<10}{what}")
        return 0
    if argv:
        name, *args = argv
        if name not in BENCHMARKS:
            print(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
            return 2
        return run(name, args)
    failed = [name for name, (quick, _) in BENCHMARKS.items() if quick and run(name, []) != 0]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
