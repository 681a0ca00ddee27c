"""The provider on the soak's deployment: many waits on one triggerer or two, and the nightly batch.

    python bench/deployment.py [--waits 1000] [--docs 10000] [--processing-time 20]
                               [--only waits|nightly] [--json FILE]

One deployment as ``make soak`` brings it up (PostgreSQL, Redis, ``CeleryExecutor`` with two
workers, scheduler, dag-processor, api-server, two triggerers, the dev server with SQLite state),
without faults, then two measurements:

* **waits**: ``--waits`` deferrable ``PredictionSensor`` mapped tasks, each waiting on its own
  prediction, held first by one triggerer (the other stopped), then spread over two. The
  predictions run for hours until ``POST /_dev/finish`` ends them all at one instant, so the hold
  and the detection are measured apart: triggerer RSS (idle, then holding), triggerer CPU over a
  fixed hold window, dev server requests per minute, then the detection delay per task from that
  instant to the trigger firing (the task leaves ``deferred``) and to the task's success.
* **nightly**: one ``GenerateBatchOperator`` over ``--docs`` small documents (the DAG of
  ``bench/batch_vs_mapped.py``), predictions of ``--processing-time`` seconds. Wall time against
  that ideal, and a timeline of where the rest goes, from the run's and the task's timestamps,
  the task's log and the dev server's records.

Both print Markdown tables; ``--json`` keeps the raw figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from batch_vs_mapped import DAG_FILE as BATCH_DAG_FILE  # noqa: E402
from batch_vs_mapped import make_documents, tree_cpu, tree_rss  # noqa: E402

from airflow_provider_vlm.client import AsyncVlmClient  # noqa: E402
from soak.deploy import API_KEY, Deployment, Settings  # noqa: E402

WAITS_DAG_FILE = textwrap.dedent(
    '''
    """Benchmark DAG: one deferrable sensor per prediction id in the run's conf."""

    from __future__ import annotations

    from datetime import datetime

    from airflow.sdk import DAG, task

    from airflow_provider_vlm.sensors.prediction import PredictionSensor

    with DAG("bench_waits", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
             max_active_tasks=2048, is_paused_upon_creation=False):

        @task
        def prediction_ids(**context) -> list[str]:
            return list(context["dag_run"].conf["ids"])

        PredictionSensor.partial(task_id="wait", deferrable=True, timeout=4 * 3600).expand(
            prediction_id=prediction_ids()
        )
    '''
)


DAG_IDS = ["bench_waits", "bench_batch"]


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return dict.fromkeys(("min", "p50", "p95", "max"), float("nan"))
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "min": round(ordered[0], 1),
        "p50": round(statistics.median(ordered), 1),
        "p95": round(p95, 1),
        "max": round(ordered[-1], 1),
    }


def epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


class Bench:
    def __init__(self, d: Deployment) -> None:
        self.d = d
        self.a = d.airflow
        self.admin = httpx.Client(base_url=d.base_url, timeout=60)

    # --- helpers -------------------------------------------------------------------------------

    def triggerers(self) -> dict[str, psutil.Process]:
        return {
            name: psutil.Process(p.pid)
            for name, p in self.a.procs.items()
            if name.startswith("triggerer-") and p.poll() is None
        }

    def set_triggerers(self, n: int, fresh: bool = False) -> None:
        """Exactly ``n`` live triggerers (``triggerer-1`` .. ``triggerer-n``); ``fresh``: new processes."""
        for i in range(1, self.d.s.triggerers + 1):
            name = f"triggerer-{i}"
            alive = name in self.a.procs and self.a.procs[name].poll() is None
            if alive and (i > n or fresh):
                self.a.kill(name, signal.SIGTERM)
                alive = False
            if i <= n and not alive:
                self.d.start_triggerer(i)
        self.a.wait_for(
            f"{n} live triggerer(s)", lambda: self.d.live_jobs().get("TriggererJob") == n, 180, 1.0
        )

    def reset_server(self, processing_time: float) -> None:
        self.admin.post("/_dev/reset", json={"state": True}).raise_for_status()
        self.admin.post("/_dev/faults", json={"processing_time": processing_time}).raise_for_status()

    def requests(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.admin.get("/_dev/stats").json()["requests"].items()}

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        run_id = f"bench_{dag_id}_{int(time.time() * 1000)}"
        self.a.cli("dags", "trigger", dag_id, "--run-id", run_id, "--conf", json.dumps(conf))
        return run_id

    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> tuple[str, float, float]:
        rows = self.a.wait_for(
            f"{dag_id} to finish",
            lambda: self.a.query(
                "select state::text, start_date, end_date from dag_run where dag_id=? and run_id=?"
                " and state in ('success', 'failed')",
                dag_id,
                run_id,
            ),
            timeout,
            1.0,
        )
        state, start, end = rows[0]
        return str(state), epoch(start), epoch(end)

    # --- many waits ----------------------------------------------------------------------------

    def create_predictions(self, n: int) -> list[str]:
        async def create() -> list[str]:
            async with AsyncVlmClient(API_KEY, self.d.base_url, max_connections=20) as client:
                gate = asyncio.Semaphore(20)

                async def one(i: int) -> str:
                    async with gate:
                        url = f"https://example.com/bench-wait-{i}.pdf"
                        made = await client.document.generate(domain="document.invoice", url=url, batch=True)
                        return made.id

                return list(await asyncio.gather(*(one(i) for i in range(n))))

        return asyncio.run(create())

    def waits(self, n: int, triggerers: int, hold_s: float) -> dict[str, Any]:
        self.set_triggerers(triggerers, fresh=True)
        self.reset_server(processing_time=6 * 3600)
        ids = self.create_predictions(n)
        procs = self.triggerers()
        time.sleep(5)  # let the triggerers settle after a restart before the idle reading
        idle_rss = {name: tree_rss(p) for name, p in procs.items()}
        run_id = self.trigger("bench_waits", {"ids": ids})
        started = time.monotonic()

        def all_held() -> bool:
            rows = self.a.query(
                "select count(*), count(tr.triggerer_id) from task_instance ti"
                " join trigger tr on tr.id = ti.trigger_id"
                " where ti.dag_id='bench_waits' and ti.run_id=? and ti.task_id='wait' and ti.state='deferred'",
                run_id,
            )
            return bool(rows[0][0] == n and rows[0][1] == n)

        self.a.wait_for(f"{n} waits deferred and held", all_held, 3600, 2.0)
        setup_s = time.monotonic() - started
        split = dict(
            self.a.query(
                "select j.hostname, count(*) from trigger tr join job j on j.id = tr.triggerer_id"
                " join task_instance ti on ti.trigger_id = tr.id where ti.run_id=? group by j.hostname",
                run_id,
            )
        )
        time.sleep(40)  # past one full poll round at the 30 s cap, so the hold window is steady
        cpu0 = {name: tree_cpu(p) for name, p in procs.items()}
        req0 = sum(self.requests().values())
        peak = dict.fromkeys(procs, 0)
        end = time.monotonic() + hold_s
        while time.monotonic() < end:
            for name, p in procs.items():
                peak[name] = max(peak[name], tree_rss(p))
            time.sleep(1.0)
        hold_cpu = {name: tree_cpu(p) - cpu0[name] for name, p in procs.items()}
        hold_requests = sum(self.requests().values()) - req0

        cpu1 = {name: tree_cpu(p) for name, p in procs.items()}
        finished = self.admin.post("/_dev/finish").json()
        at = datetime.fromisoformat(finished["at"]).timestamp()
        fired: dict[int, float] = {}
        deadline = time.monotonic() + 1800
        while len(fired) < n and time.monotonic() < deadline:
            now = time.time()
            for (index,) in self.a.query(
                "select map_index from task_instance where dag_id='bench_waits' and run_id=?"
                " and task_id='wait' and state <> 'deferred'",
                run_id,
            ):
                fired.setdefault(int(index), now)
            time.sleep(0.5)
        fire_cpu = {name: tree_cpu(p) - cpu1[name] for name, p in procs.items()}
        state, _, _ = self.wait_run("bench_waits", run_id, 3600)
        ends = self.a.query(
            "select end_date from task_instance where dag_id='bench_waits' and run_id=? and task_id='wait'"
            " and state='success'",
            run_id,
        )
        return {
            "scenario": "waits",
            "waits": n,
            "triggerers": triggerers,
            "state": state,
            "finished": finished["finished"],
            "held_by": split,
            "setup_s": round(setup_s, 1),
            "idle_rss_mb": {k: round(v / 2**20, 1) for k, v in idle_rss.items()},
            "holding_rss_mb": {k: round(v / 2**20, 1) for k, v in peak.items()},
            "hold_s": hold_s,
            "hold_cpu_s": {k: round(v, 1) for k, v in hold_cpu.items()},
            "hold_requests_per_min": round(hold_requests * 60 / hold_s, 1),
            "fire_cpu_s": {k: round(v, 1) for k, v in fire_cpu.items()},
            "fired": len(fired),
            "fire_delay_s": percentiles([t - at for t in fired.values()]),
            "success": len(ends),
            "success_delay_s": percentiles([epoch(e) - at for (e,) in ends]),
        }

    # --- the nightly batch ---------------------------------------------------------------------

    def nightly(self, n: int, processing: float, work: Path) -> dict[str, Any]:
        self.set_triggerers(self.d.s.triggerers)
        self.reset_server(processing_time=processing)
        folder = work / f"nightly-{n}"
        make_documents(folder, n)
        names = [
            "scheduler",
            "api-server",
            *sorted(p for p in self.a.procs if p.startswith(("worker", "trigg"))),
        ]
        procs = {name: psutil.Process(self.a.procs[name].pid) for name in names}
        server = psutil.Process(self.d.devserver.process.pid) if self.d.devserver else None
        cpu0 = {name: tree_cpu(p) for name, p in procs.items()}
        server_cpu0 = tree_cpu(server) if server else 0.0
        run_id = self.trigger("bench_batch", {"folder": str(folder), "output": str(work / f"out-{n}")})
        state, run_start, run_end = self.wait_run("bench_batch", run_id, max(1800, n * 0.5))
        cpu = {name: round(tree_cpu(p) - cpu0[name], 1) for name, p in procs.items()}
        cpu["devserver"] = round((tree_cpu(server) - server_cpu0) if server else 0.0, 1)
        (ti_start, ti_end), *_ = self.a.query(
            "select start_date, end_date from task_instance where dag_id='bench_batch' and run_id=?", run_id
        )
        with contextlib.closing(sqlite3.connect(self.d.devserver_state)) as db:
            first_create, last_create, last_ready = db.execute(
                "select min(created_at), max(created_at), max(ready_at) from predictions"
            ).fetchone()
        events = task_events(self.a.home, "bench_batch", run_id)
        marks = {
            "run started": run_start,
            "task started (worker)": events.get("batch of", epoch(ti_start)),
            "first prediction created": first_create,
            "last prediction created": last_create,
            "deferred": events.get("deferring"),
            "last prediction completed (server)": last_ready,
            "resumed (worker)": events.get("wait ended"),
            "task ended": epoch(ti_end),
            "run ended": run_end,
        }
        return {
            "scenario": "nightly",
            "documents": n,
            "state": state,
            "wall_s": round(run_end - run_start, 1),
            "ideal_s": processing,
            "wall_over_ideal": round((run_end - run_start) / processing, 2),
            "timeline_s": {k: (round(v - run_start, 1) if v else None) for k, v in marks.items()},
            "cpu_s": cpu,
            "requests": self.requests(),
        }


def task_events(home: Path, dag_id: str, run_id: str) -> dict[str, float]:
    """When the batch task logged its milestones (first occurrence, epoch seconds)."""
    wanted = ("batch of", "deferring", "wait ended")
    found: dict[str, float] = {}
    for log in sorted((home / "logs").glob(f"dag_id={dag_id}/run_id={run_id}/task_id=*/attempt=*.log")):
        for line in log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                record = json.loads(line)
                for key in wanted:
                    if key not in found and str(record.get("event", "")).startswith(key):
                        found[key] = datetime.fromisoformat(record["timestamp"]).timestamp()
    return found


def waits_table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| triggerers | waits held by | RSS idle → holding MB | CPU-s per minute holding | "
        "dev server requests / min | fired min / p50 / max s | success min / p50 / p95 / max s |",
        "|---|---|---|---:|---:|---|---|",
    ]
    for r in rows:
        held = ", ".join(f"{k}: {v}" for k, v in sorted(r["held_by"].items()))
        rss = ", ".join(f"{r['idle_rss_mb'][k]} → {r['holding_rss_mb'][k]}" for k in sorted(r["idle_rss_mb"]))
        cpu_min = sum(r["hold_cpu_s"].values()) * 60 / r["hold_s"]
        f, s = r["fire_delay_s"], r["success_delay_s"]
        out.append(
            f"| {r['triggerers']} | {held} | {rss} | {cpu_min:.1f} | {r['hold_requests_per_min']} | "
            f"{f['min']} / {f['p50']} / {f['max']} | {s['min']} / {s['p50']} / {s['p95']} / {s['max']} |"
        )
    return "\n".join(out)


def nightly_table(r: dict[str, Any]) -> str:
    out = [f"{r['documents']:,} documents: {r['state']}, wall {r['wall_s']} s, {r['wall_over_ideal']} times the ideal",
           "", "| moment | s after the run started |", "|---|---:|"]  # fmt: skip
    out += [f"| {k} | {v} |" for k, v in r["timeline_s"].items()]
    out += ["", "| process | CPU-s |", "|---|---:|"]
    out += [f"| {k} | {v} |" for k, v in r["cpu_s"].items()]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waits", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=90.0, help="seconds of the hold window")
    parser.add_argument("--triggerers", default="1,2", help="the waits' scenarios (default 1,2)")
    parser.add_argument("--docs", type=int, default=10000)
    parser.add_argument("--processing-time", type=float, default=20.0)
    parser.add_argument("--only", choices=("waits", "nightly"), default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder and logs")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vlm-bench-deploy-"))
    dags = work / "dags"
    dags.mkdir()
    (dags / "bench_waits.py").write_text(WAITS_DAG_FILE)
    (dags / "bench_batch.py").write_text(BATCH_DAG_FILE)
    settings = Settings(
        work / "deployment", storage="file", processing_time=args.processing_time, error_rate=0.0,
        rate_limit_rate=0.0, drop_rate=0.0, parallelism=16,
    )  # fmt: skip
    results: list[dict[str, Any]] = []
    try:
        with Deployment(settings, dags) as d:
            d.up({"AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2048"})
            bench = Bench(d)
            bench.a.wait_for(
                "the DAGs to be parsed",
                lambda: len(bench.a.query("select dag_id from dag where dag_id = any(?)", DAG_IDS)) == 2,
                300,
                1.0,
            )
            for dag_id in DAG_IDS:
                bench.a.cli("dags", "unpause", dag_id)
            if args.only in (None, "nightly"):
                print(f"nightly batch of {args.docs:,} ...", flush=True)
                results.append(bench.nightly(args.docs, args.processing_time, work))
                print(json.dumps(results[-1]), flush=True)
            if args.only in (None, "waits"):
                for triggerers in (int(n) for n in args.triggerers.split(",")):
                    print(f"{args.waits:,} waits on {triggerers} triggerer(s) ...", flush=True)
                    results.append(bench.waits(args.waits, triggerers, args.hold))
                    print(json.dumps(results[-1]), flush=True)
    finally:
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    for r in results:
        if r["scenario"] == "nightly":
            print(nightly_table(r))
    waits = [r for r in results if r["scenario"] == "waits"]
    if waits:
        print(waits_table(waits))
    return 0


if __name__ == "__main__":
    sys.exit(main())
