"""A thousand waits in one triggerer: added memory and CPU of 1,000 concurrent ``PredictionTrigger``s.

Run: ``python bench/thousand_waits.py`` (starts its own dev server; prints a table).

Each scenario runs in a fresh child process, as a triggerer would: it builds N triggers and runs
them concurrently in one event loop until each has sent its event, and reports the RSS it added
(peak during the run minus before the triggers were built) and the CPU time it used.

- floor: N ``DateTimeTrigger``s firing when the predictions complete (a trigger that only sleeps);
- subject: N ``PredictionTrigger``s (one id each, default polling: 5 s, x1.5, cap 30 s) on
  predictions the dev server completes ``BENCH_SECONDS`` (30) after submission;
- with ``--unshared`` also the same triggers with one client and one SSL context per trigger
  (how the trigger worked before), for comparison;
- with ``--spread`` also the triggers started one after the other over ``BENCH_SPREAD`` (20) s,
  as deferring tasks start them, with the shared poll rounds' old 0.1 s window and the current
  one; the requests column counts what the dev server saw.

The floor is measured in the same run; the result is a ratio. ``BENCH_N`` (1000) and
``BENCH_SECONDS`` (30) change the size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Any

import httpx

API_KEY = "bench-key"
CONN_ID = "vlm_bench"
N = int(os.environ.get("BENCH_N", "1000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))
#: ``--spread``: the triggers start one after the other over this many seconds.
SPREAD = float(os.environ.get("BENCH_SPREAD", "20"))
GOAL_RSS_MB = 100.0
GOAL_CPU_RATIO = 2.0


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _unshare() -> None:
    """One client and one SSL context per trigger, as before they were shared (comparison only)."""
    import contextlib

    from airflow_provider_vlm.client import _settings, _shared
    from airflow_provider_vlm.triggers import prediction

    def own_context(verify: bool) -> Any:
        return httpx.create_ssl_context(verify=verify)

    _settings.shared_ssl_context = own_context  # type: ignore[assignment]
    _shared.shared_ssl_context = own_context  # type: ignore[assignment]

    @contextlib.asynccontextmanager
    async def own_client(settings: Any, max_connections: int = 20) -> Any:
        client = _shared._new_client(settings, max_connections)
        async with client:
            yield client

    prediction.shared_async_client = own_client  # type: ignore[assignment]


async def _run_all(triggers: list[Any], spread: float = 0.0) -> tuple[list[dict[str, Any]], float]:
    peak = _rss_mb()
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_mb())
            await asyncio.sleep(0.25)

    async def first_event(i: int, trigger: Any) -> dict[str, Any]:
        await asyncio.sleep(spread * i / len(triggers))  # tasks defer one after the other
        async for event in trigger.run():
            return dict(event.payload) if isinstance(event.payload, dict) else {"status": "fired"}
        raise RuntimeError("trigger ended without an event")

    sampler = asyncio.create_task(sample())
    events = await asyncio.gather(*(first_event(i, t) for i, t in enumerate(triggers)))
    done.set()
    await sampler
    return events, max(peak, _rss_mb())


def child(kind: str, ids: list[str], fire_at: float) -> dict[str, Any]:
    """One scenario in this (fresh) process; prints nothing but its JSON result."""
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger

    from airflow_provider_vlm.triggers.prediction import PredictionTrigger

    if kind == "unshared":
        _unshare()
    if kind == "spread-before":  # the board's window before it widened for crowds
        from airflow_provider_vlm.client._shared import StatusBoard

        StatusBoard.max_crowd_window = StatusBoard.window
    before_rss, before_cpu, started = _rss_mb(), _cpu(), time.perf_counter()
    if kind == "floor":
        moment = datetime.fromtimestamp(fire_at, tz=timezone.utc)
        triggers: list[Any] = [DateTimeTrigger(moment) for _ in ids]
    else:
        deadline = time.time() + 600
        triggers = [PredictionTrigger([pid], vlm_conn_id=CONN_ID, deadline=deadline) for pid in ids]
    events, peak = asyncio.run(_run_all(triggers, SPREAD if kind.startswith("spread") else 0.0))
    return {
        "kind": kind,
        "rss_mb": peak - before_rss,
        "cpu_s": _cpu() - before_cpu,
        "wall_s": time.perf_counter() - started,
        "events": len(events),
        "statuses": sorted({str(e.get("status")) for e in events}),
    }


def _submit(base_url: str) -> list[str]:
    async def go() -> list[str]:
        limits = httpx.Limits(max_connections=20)
        headers = {"Authorization": f"Bearer {API_KEY}"}
        async with httpx.AsyncClient(
            base_url=base_url + "/", headers=headers, limits=limits, timeout=120
        ) as http:

            async def one(i: int) -> str:
                body = {"domain": "document.markdown", "url": f"https://bench.test/{i}.pdf", "batch": True}
                response = await http.post("document/generate", json=body)
                response.raise_for_status()
                return str(response.json()["id"])

            return list(await asyncio.gather(*(one(i) for i in range(N))))

    return asyncio.run(go())


def _scenario(kind: str, base_url: str) -> dict[str, Any]:
    ids = _submit(base_url) if kind != "floor" else ["-"] * N
    httpx.post(f"{base_url}/_dev/reset", json={}).raise_for_status()  # count the waits' requests only
    fire_at = time.time() + SECONDS
    env = {
        **os.environ,
        f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(
            {"conn_type": "vlm", "host": base_url, "password": API_KEY}
        ),
    }
    argv = [sys.executable, __file__, "--child", kind, "--fire-at", str(fire_at)]
    proc = subprocess.run(
        argv, input=json.dumps(ids), env=env, capture_output=True, text=True, check=False, timeout=900
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        raise SystemExit(f"{kind} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["requests"] = sum(httpx.get(f"{base_url}/_dev/stats").json()["requests"].values())
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--fire-at", type=float, default=0.0)
    parser.add_argument("--unshared", action="store_true", help="also run the per-trigger-client comparison")
    parser.add_argument(
        "--spread", action="store_true",
        help="also start the triggers one after the other over BENCH_SPREAD (20) s, as deferring "
        "tasks do, with the board's window before and after it widened for crowds",
    )  # fmt: skip
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, json.loads(sys.stdin.read()), args.fire_at)), flush=True)
        return

    from airflow_provider_vlm.devserver.process import running

    kinds = ["floor", "shared"] + (["unshared"] if args.unshared else [])
    kinds += ["spread-before", "spread"] if args.spread else []
    results = {}
    with running("--api-key", API_KEY, "--processing-time", str(SECONDS)) as server:
        for kind in kinds:
            results[kind] = _scenario(kind, server.base_url)
            print(f"  {kind}: done", file=sys.stderr, flush=True)

    labels = {
        "floor": f"{N:,} DateTimeTrigger (floor)",
        "shared": f"{N:,} PredictionTrigger",
        "unshared": f"{N:,} PredictionTrigger, a client per trigger",
        "spread-before": f"{N:,} started over {SPREAD:g} s, 0.1 s rounds (before)",
        "spread": f"{N:,} started over {SPREAD:g} s",
    }
    floor = results["floor"]
    print(f"\n{N:,} concurrent waits in one event loop, {SECONDS:g} s predictions\n")
    print(f"| {'scenario':<46} | added RSS MB | CPU s | CPU / floor | wall s | requests | events |")
    print(f"|{'-' * 48}|-------------:|------:|------------:|-------:|---------:|--------|")
    for kind in kinds:
        r = results[kind]
        ratio = r["cpu_s"] / floor["cpu_s"] if floor["cpu_s"] else float("nan")
        print(
            f"| {labels[kind]:<46} | {r['rss_mb']:12.1f} | {r['cpu_s']:5.1f} | {ratio:11.2f} | "
            f"{r['wall_s']:6.1f} | {r['requests']:8,} | {r['events']} {'/'.join(r['statuses'])} |"
        )
    shared = results["shared"]
    added = shared["rss_mb"]
    ratio = shared["cpu_s"] / floor["cpu_s"]
    print(
        f"\ngoal: at most +{GOAL_RSS_MB:g} MB and {GOAL_CPU_RATIO:g}x the floor's CPU -> "
        f"+{added:.1f} MB, {ratio:.2f}x: {'met' if added <= GOAL_RSS_MB and ratio <= GOAL_CPU_RATIO else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
