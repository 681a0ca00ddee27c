"""OCR on the dev server: seconds per page, and whether a batch of scans stalls the status polls.

    python bench/ocr_polls.py [--scans 100] [--idle-polls 300] [--concurrency 4] [--json FILE]
    python -m bench ocr_polls

Scans are the project's own: generated invoices (``vlm_demo.samples``) rendered, skewed and
speckled by ``vlm_demo.scans``, each with its own seed, so no two uploads are the same bytes.
Against one dev server on a free loopback port (``--processing-time 0``: only the engine's own
work counts), in one run:

1. one scan at a time (``batch=false``): seconds per page for a lone request;
2. idle: ``GET /predictions/{id}`` of a finished prediction, ``--idle-polls`` times in a row;
3. busy: all ``--scans`` scans submitted with ``batch=true`` from ``--concurrency`` threads
   while the main thread polls, round-robin, the predictions finished so far (the dev server
   reads a document while it creates the prediction, so a create returns once its OCR is done:
   what is polled during the batch is the server, not a scan in progress). Latency p50/p95
   against the idle figures (the ratio), the batch's seconds per page (wall, and CPU seconds of
   the server with its OCR workers and their Tesseract runs) and how many ended ``completed``.

A poll is one plain httpx request over a kept-alive connection; polls follow each other with a
short pause, as a triggerer's loop would, and are timed one by one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "example_dags")]

from airflow_provider_vlm.devserver import process as devserver  # noqa: E402
from bench._cpu import tree_cpu_seconds  # noqa: E402
from vlm_demo.samples import generate_samples  # noqa: E402
from vlm_demo.scans import ScanStyle, make_scanned, render_pages, write_image_pdf  # noqa: E402

KEY = "bench-key"
DOMAIN = "document.invoice"
TERMINAL = frozenset({"completed", "failed"})
PAUSE = 0.02  # between polls: a busy poll loop, not a hot spin that would steal the server's CPU


def make_scans(folder: Path, count: int) -> list[Path]:
    """``count`` one-page scans of generated invoices (12 sources, each scanned with many seeds)."""
    sources = generate_samples(folder / "src", count=12, seed=7, day=date(2026, 3, 2), bad=0)
    pages = [render_pages(invoice.path, 150)[0] for invoice in sources]
    scans = []
    for number in range(count):
        angle = (-1) ** number * (1.0 + (number % 5) / 5)
        style = ScanStyle(angle=angle)
        image = make_scanned(pages[number % len(pages)], style, seed=number)
        scans.append(write_image_pdf([image], folder / f"scan-{number:03d}.pdf", style))
    return scans


def submit(http: httpx.Client, path: Path, batch: bool) -> dict[str, Any]:
    upload = http.post(
        "/files",
        params={"purpose": "assistants"},
        files={"file": (path.name, path.read_bytes(), "application/pdf")},
    )
    upload.raise_for_status()
    reply = http.post(
        "/document/generate",
        json={"model": "vlm-1", "domain": DOMAIN, "file_id": upload.json()["id"], "batch": batch},
    )
    reply.raise_for_status()
    return dict(reply.json())


def poll_once(http: httpx.Client, prediction_id: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    reply = http.get(f"/predictions/{prediction_id}")
    elapsed = time.perf_counter() - started
    reply.raise_for_status()
    return elapsed, dict(reply.json())


def quantiles(latencies: Sequence[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds."""
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"p50_ms": 1000 * cuts[49], "p95_ms": 1000 * cuts[94], "polls": len(latencies)}


def run(scans: int, idle_polls: int, timeout: float, concurrency: int = 4) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vlm-ocr-polls-") as tmp:
        started = time.perf_counter()
        files = make_scans(Path(tmp), scans + 3)
        render_seconds = time.perf_counter() - started
        singles, batch_files = files[:3], files[3:]
        with (
            devserver.running("--api-key", KEY, "--processing-time", "0") as server,
            httpx.Client(
                base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=600.0
            ) as http,
        ):
            # 1. one scan at a time
            lone = []
            statuses = []
            for path in singles:
                started = time.perf_counter()
                record = submit(http, path, batch=False)
                lone.append(time.perf_counter() - started)
                statuses.append(record["status"])
            # 2. idle polls of a finished prediction
            idle_id = str(record["id"])
            idle = []
            for _ in range(idle_polls):
                idle.append(poll_once(http, idle_id)[0])
                time.sleep(PAUSE)
            # 3. the batch, submitted from --concurrency threads, polled while the server reads it
            cpu_before = tree_cpu_seconds(server.process.pid)
            started = time.perf_counter()
            ends: dict[str, str] = {}
            with ThreadPoolExecutor(concurrency) as pool:
                creating = [pool.submit(submit, http, path, True) for path in batch_files]
                busy: list[float] = []
                while not all(future.done() for future in creating):
                    # The finished predictions so far (the idle one to begin with), round-robin.
                    ids = [idle_id] + [
                        str(future.result()["id"])
                        for future in creating
                        if future.done() and future.exception() is None
                    ]
                    busy.append(poll_once(http, ids[len(busy) % len(ids)])[0])
                    time.sleep(PAUSE)
                records = [future.result() for future in creating]
            batch_wall = time.perf_counter() - started
            batch_cpu = tree_cpu_seconds(server.process.pid) - cpu_before
            deadline = time.monotonic() + timeout
            while len(ends) < len(records) and time.monotonic() < deadline:
                for record in records:
                    if str(record["id"]) not in ends:
                        _, state = poll_once(http, str(record["id"]))
                        if state["status"] in TERMINAL:
                            ends[str(record["id"])] = state["status"]
                time.sleep(PAUSE)
    idle_q, busy_q = quantiles(idle), quantiles(busy)
    return {
        "scans": len(batch_files),
        "render_seconds": render_seconds,
        "lone_seconds_per_page": statistics.median(lone),
        "lone_statuses": statuses,
        "batch_seconds_per_page_wall": batch_wall / len(batch_files),
        "batch_cpu_seconds_per_page": batch_cpu / len(batch_files),
        "batch_wall_seconds": batch_wall,
        "completed": sum(status == "completed" for status in ends.values()),
        "failed": sum(status == "failed" for status in ends.values()),
        "unfinished": len(records) - len(ends),
        "idle": idle_q,
        "busy": busy_q,
        "ratio_p50": busy_q["p50_ms"] / idle_q["p50_ms"],
        "ratio_p95": busy_q["p95_ms"] / idle_q["p95_ms"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scans", type=int, default=100, help="scans in the batch (default 100)")
    parser.add_argument("--idle-polls", type=int, default=300, help="polls of the idle server (default 300)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds the batch may take")
    parser.add_argument("--concurrency", type=int, default=4, help="creates in flight (default 4)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    result = run(args.scans, args.idle_polls, args.timeout, args.concurrency)
    print(
        f"{result['scans']} one-page scans (rendered in {result['render_seconds']:.1f} s); "
        f"batch: {result['completed']} completed, {result['failed']} failed, "
        f"{result['unfinished']} unfinished in {result['batch_wall_seconds']:.1f} s"
    )
    print("| measure | value |")
    print("|---|---:|")
    print(f"| one scan alone (batch=false), s per page | {result['lone_seconds_per_page']:.2f} |")
    print(f"| batch of {result['scans']}, wall s per page | {result['batch_seconds_per_page_wall']:.2f} |")
    print(
        f"| batch of {result['scans']}, CPU-s per page (server + OCR workers) | {result['batch_cpu_seconds_per_page']:.2f} |"
    )
    for name in ("idle", "busy"):
        figures = result[name]
        print(
            f"| poll p50 / p95, {name} ({figures['polls']} polls), ms | "
            f"{figures['p50_ms']:.1f} / {figures['p95_ms']:.1f} |"
        )
    print(f"| busy / idle, p50 and p95 | {result['ratio_p50']:.2f}x / {result['ratio_p95']:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["unfinished"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
