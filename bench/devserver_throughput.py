"""Throughput of ``GET /predictions/{id}`` on the dev server, over loopback.

    python bench/devserver_throughput.py [--requests 20000] [--concurrency 16]

Starts the dev server as a subprocess (``--processing-time 3600`` so that predictions stay in
flight), then, for each server variant (HTTP parser httptools or h11, access log off or on):
polls one prediction while the server is idle, and polls 1,000 batch predictions in flight,
round-robin. A pooled ``httpx.AsyncClient`` sends the requests. Server CPU time is read from
``/proc/PID/stat`` (psutil when present), so "server CPU ms per request" and the capacity it
implies (requests/s one core could serve) do not depend on how fast this client is.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

KEY = "bench-key"
IN_FLIGHT = 1000
READY = "VLM dev server ready: "


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process."""
    try:
        import psutil

        times = psutil.Process(pid).cpu_times()
        return float(times.user + times.system)
    except ImportError:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(*extra: str) -> Iterator[tuple[str, int]]:
    args = [sys.executable, "-m", "airflow_provider_vlm.devserver", "--port", "0", "--api-key", KEY]
    process = subprocess.Popen(
        [*args, "--processing-time", "3600", *extra], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith(READY):
        process.kill()
        raise SystemExit(f"dev server did not start: {line!r}")
    # Keep reading stdout (the access log goes there), or a full pipe would stall the server.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        yield line[len(READY) :], process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Row:
    variant: str
    scenario: str
    requests: int
    seconds: float
    server_cpu: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.server_cpu / self.requests


async def create(client: httpx.AsyncClient, file_id: str, count: int) -> list[str]:
    body = {"file_id": file_id, "domain": "document.invoice", "batch": True}
    ids: list[str] = []
    for start in range(0, count, 50):
        replies = await asyncio.gather(
            *(client.post("/document/generate", json=body) for _ in range(min(50, count - start)))
        )
        ids += [r.json()["id"] for r in replies]
    return ids


def poll_process(base_url: str, ids: list[str], total: int, concurrency: int) -> None:
    """One client process: its own pooled AsyncClient, ``concurrency`` requests in flight."""

    async def run() -> None:
        async with _client(base_url, concurrency) as client:
            await poll(client, ids, total, concurrency)

    asyncio.run(run())


def _client(base_url: str, concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {KEY}"}
    return httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=30)


async def poll(client: httpx.AsyncClient, ids: list[str], total: int, concurrency: int) -> None:
    counter = iter(range(total))

    async def worker() -> None:
        for n in counter:
            response = await client.get(f"/predictions/{ids[n % len(ids)]}")
            if response.status_code != 200:
                raise SystemExit(f"unexpected {response.status_code}: {response.text[:200]}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def measure(
    variant: str, extra: tuple[str, ...], total: int, concurrency: int, clients: int
) -> list[Row]:
    rows = []
    with server(*extra) as (base_url, pid):
        async with _client(base_url, concurrency) as client:
            pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
            upload = await client.post("/files", files={"file": ("bench.pdf", pdf)})
            file_id = upload.json()["id"]
            scenarios = {"idle (1 prediction)": await create(client, file_id, 1)}
            await poll(client, scenarios["idle (1 prediction)"], 500, concurrency)  # warm up
            for name, ids in [*scenarios.items(), ("1,000 in flight", [])]:
                if not ids:
                    ids = await create(client, file_id, IN_FLIGHT)
                    assert (await client.get(f"/predictions/{ids[-1]}")).json()["status"] != "completed"
                share = total // clients
                cpu0, t0 = cpu_seconds(pid), time.perf_counter()
                with ProcessPoolExecutor(clients) as pool:
                    futures = [
                        pool.submit(poll_process, base_url, ids, share, concurrency) for _ in range(clients)
                    ]
                    for future in futures:
                        future.result()
                rows.append(
                    Row(variant, name, share * clients, time.perf_counter() - t0, cpu_seconds(pid) - cpu0)
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=20000, help="GETs per scenario (default 20000)")
    parser.add_argument(
        "--concurrency", type=int, default=8, help="requests in flight per client (default 8)"
    )
    parser.add_argument("--clients", type=int, default=2, help="client processes (default 2)")
    args = parser.parse_args()
    variants = {
        "httptools": ("--http", "httptools"),
        "h11": ("--http", "h11"),
        "httptools + access log": ("--http", "httptools", "--access-log", "--log-level", "info"),
    }
    rows: list[Row] = []
    for name, extra in variants.items():
        rows += asyncio.run(measure(name, extra, args.requests, args.concurrency, args.clients))
    header = f"{'server':<24} {'scenario':<20} {'requests':>8} {'req/s':>8} {'srv CPU ms/req':>15} {'1-core cap req/s':>17}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.variant:<24} {r.scenario:<20} {r.requests:>8} {r.rps:>8.0f} {r.cpu_ms:>15.3f} {1000 / r.cpu_ms:>17.0f}"
        )


if __name__ == "__main__":
    main()
