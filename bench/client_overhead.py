"""Client overhead: VlmHook's client vs raw httpx, and async concurrency vs a sync loop.

Run: ``python bench/client_overhead.py`` (starts its own dev server; prints a table).
Same run, same server: the baseline is measured beside the subject, and the result is a ratio.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time

import httpx

from airflow_provider_vlm.client import AsyncVlmClient
from airflow_provider_vlm.devserver.process import running
from airflow_provider_vlm.hooks.vlm import VlmHook

API_KEY = "bench-key"
N = int(os.environ.get("BENCH_N", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def raw_httpx(base_url: str, key: str, pid: str) -> float:
    with httpx.Client(base_url=base_url + "/", headers={"Authorization": f"Bearer {key}"}) as http:
        http.get(f"predictions/{pid}").json()
        start = time.perf_counter()
        for _ in range(N):
            http.get(f"predictions/{pid}").json()
        return time.perf_counter() - start


def hook_client(pid: str) -> float:
    client = VlmHook("vlm_bench").get_client()
    client.predictions.get(pid)
    start = time.perf_counter()
    for _ in range(N):
        client.predictions.get(pid)
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed


async def async_concurrent(base_url: str, key: str, pid: str, limit: int) -> float:
    async with AsyncVlmClient(key, base_url, max_connections=limit) as client:
        await client.predictions.get(pid)
        start = time.perf_counter()
        await asyncio.gather(*(client.predictions.get(pid) for _ in range(N)))
        return time.perf_counter() - start


def main() -> None:
    with running("--api-key", API_KEY, "--processing-time", "0") as server:
        os.environ["AIRFLOW_CONN_VLM_BENCH"] = json.dumps(
            {"conn_type": "vlm", "host": server.base_url, "password": API_KEY}
        )
        with httpx.Client(
            base_url=server.base_url + "/", headers={"Authorization": f"Bearer {API_KEY}"}
        ) as h:
            pid = h.post(
                "document/generate", json={"domain": "document.markdown", "url": "https://x.test/a.pdf"}
            ).json()["id"]
        raw, hook, conc = [], [], []
        for _ in range(ROUNDS):  # interleaved so both see the same machine load
            raw.append(raw_httpx(server.base_url, API_KEY, pid))
            hook.append(hook_client(pid))
            conc.append(asyncio.run(async_concurrent(server.base_url, API_KEY, pid, 20)))
    r, k, c = statistics.median(raw), statistics.median(hook), statistics.median(conc)
    print(f"{N} GET /predictions/{{id}} on loopback, median of {ROUNDS} interleaved rounds\n")
    print(f"| {'subject':<42} | {'seconds':>8} | {'req/s':>7} | {'ratio':>6} |")
    print(f"|{'-' * 44}|{'-' * 10}|{'-' * 9}|{'-' * 8}|")
    print(f"| {'raw httpx.Client.get + .json() (baseline)':<42} | {r:8.3f} | {N / r:7.0f} | {1:6.2f} |")
    print(f"| {'VlmHook client predictions.get (sync)':<42} | {k:8.3f} | {N / k:7.0f} | {k / r:6.2f} |")
    print(f"| {'AsyncVlmClient, 1,000 concurrent, pool 20':<42} | {c:8.3f} | {N / c:7.0f} | {c / k:6.2f} |")
    print("\nratio: row 2 vs raw httpx (goal <= 1.15); row 3 vs the sync client loop.")


if __name__ == "__main__":
    main()
