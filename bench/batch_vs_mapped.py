"""Many documents: one mapped deferring task per document vs one ``GenerateBatchOperator``.

    python bench/batch_vs_mapped.py [--processing-time 20] [--mapped 100 1000] [--batch 1000 10000]
                                    [--parallelism 4] [--plot docs/img/batch_vs_mapped.png]

Real processes: the dev server (``--processing-time`` seconds per prediction), then Airflow's
api-server, scheduler, dag-processor and triggerer (SQLite, LocalExecutor, 127.0.0.1, free ports,
connection stored in the metadata DB). For each scenario it writes N small distinct documents,
triggers the DAG with their folder in the run's conf, and waits for the run to finish.

Reported per scenario: wall time (dag run start to end), CPU-seconds per Airflow process tree
(children included), triggerer peak RSS, dev server requests per document (all routes, and
``GET /predictions/{id}`` alone), and wall ÷ the server-side ideal (one processing time). A PNG
plots wall time against the number of documents for both patterns. Results go to stdout as a
Markdown table and, with ``--json``, to a file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from airflow_provider_vlm.devserver.process import RunningServer, running

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.cluster import LocalAirflow

KEY = "bench-key"
PROCESSES = ("api-server", "scheduler", "dag-processor", "triggerer")

DAG_FILE = textwrap.dedent(
    '''
    """Benchmark DAGs: per-document mapping and one batch task, over the folder in the run's conf."""

    from __future__ import annotations

    import os
    from datetime import datetime

    from airflow.sdk import DAG, task

    from airflow_provider_vlm.operators.batch import GenerateBatchOperator
    from airflow_provider_vlm.operators.generate import GenerateOperator

    START = datetime(2026, 1, 1)
    WAIT = {"poll_interval": 5.0, "max_poll_interval": 30.0, "timeout": 3600}

    with DAG("bench_mapped", schedule=None, start_date=START, catchup=False, is_paused_upon_creation=False):

        @task
        def list_documents(**context) -> list[str]:
            folder = context["dag_run"].conf["folder"]
            return sorted(entry.path for entry in os.scandir(folder) if entry.name.endswith(".txt"))

        GenerateOperator.partial(
            task_id="extract", domain="document.receipt", deferrable=True, **WAIT
        ).expand(file=list_documents())

    with DAG("bench_batch", schedule=None, start_date=START, catchup=False, is_paused_upon_creation=False):
        GenerateBatchOperator(
            task_id="extract",
            domain="document.receipt",
            source="{{ dag_run.conf['folder'] }}",
            pattern="*.txt",
            output_path="{{ dag_run.conf['output'] }}",
            deferrable=True,
            max_active_submissions=16,
            max_concurrent_polls=50,
            **WAIT,
        )
    '''
)


def tree_cpu(proc: psutil.Process) -> float:
    """CPU-seconds of a process, its live descendants and the children it has reaped."""
    total = 0.0
    with contextlib.suppress(psutil.Error):
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
    return total


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    with contextlib.suppress(psutil.Error):
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
    return total


@dataclass
class Result:
    pattern: str
    documents: int
    state: str
    wall_s: float
    ideal_s: float
    cpu_s: dict[str, float]
    triggerer_peak_rss_mb: float
    requests_per_doc: float
    status_requests_per_doc: float
    requests: dict[str, int] = field(default_factory=dict)

    @property
    def wall_over_ideal(self) -> float:
        return self.wall_s / self.ideal_s


class Airflow(LocalAirflow):
    """The four Airflow processes on one SQLite metadata DB, with the benchmark's DAGs."""

    def __init__(self, home: Path, server: RunningServer, parallelism: int) -> None:
        dags = home / "dags"
        dags.mkdir(parents=True)
        (dags / "bench_dags.py").write_text(DAG_FILE)
        extra = {"AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2048", "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}
        super().__init__(home, dags, parallelism=parallelism, extra_env=extra)
        self.server = server

    def start_benchmark(self) -> None:
        self.start_all(self.server.base_url, KEY)
        self.wait_for(
            "the DAGs to be parsed", lambda: len(self.query("select dag_id from dag")) >= 2, 180, 1.0
        )

    def run(self, dag_id: str, conf: dict[str, Any], timeout: float) -> tuple[str, float]:
        run_id = f"bench_{int(time.time() * 1000)}"
        self.cli("dags", "trigger", dag_id, "--run-id", run_id, "--conf", json.dumps(conf))
        rows = self.wait_for(
            f"{dag_id} to finish",
            lambda: self.query(
                "select state, (julianday(end_date) - julianday(start_date)) * 86400 from dag_run "
                "where dag_id=? and run_id=? and state in ('success', 'failed')",
                dag_id,
                run_id,
            ),
            timeout,
            1.0,
        )
        state, wall = rows[0]
        return str(state), float(wall)


def make_documents(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"doc-{i:05d}.txt").write_text(f"Document {i}\nInvoice INV-{i:06d}\nTotal {i}.00 EUR\n")


def scenario(airflow: Airflow, pattern: str, n: int, work: Path, processing: float) -> Result:
    folder = work / f"{pattern}-{n}"
    make_documents(folder, n)
    admin = httpx.Client(base_url=airflow.server.base_url, timeout=30)
    admin.post("/_dev/reset", json={"state": True}).raise_for_status()
    procs = {name: psutil.Process(p.pid) for name, p in airflow.procs.items()}
    before = {name: tree_cpu(p) for name, p in procs.items()}
    before["devserver"] = tree_cpu(psutil.Process(airflow.server.process.pid))
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(procs["triggerer"]))
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    dag_id = "bench_mapped" if pattern == "mapped" else "bench_batch"
    conf = {"folder": str(folder), "output": str(work / f"out-{pattern}-{n}")}
    try:
        state, wall = airflow.run(dag_id, conf, timeout=max(900, n * 1.5))
    finally:
        done.set()
        sampler.join()
    cpu = {name: round(tree_cpu(p) - before[name], 1) for name, p in procs.items()}
    cpu["devserver"] = round(tree_cpu(psutil.Process(airflow.server.process.pid)) - before["devserver"], 1)
    stats = admin.get("/_dev/stats").json()
    requests = {k: int(v) for k, v in stats["requests"].items()}
    return Result(
        pattern=pattern,
        documents=n,
        state=state,
        wall_s=round(wall, 1),
        ideal_s=processing,
        cpu_s=cpu,
        triggerer_peak_rss_mb=round(peak[0] / 2**20, 1),
        requests_per_doc=round(sum(requests.values()) / n, 2),
        status_requests_per_doc=round(requests.get("GET /predictions/{id}", 0) / n, 2),
        requests=requests,
    )


def table(results: list[Result]) -> str:
    names = [*PROCESSES, "devserver"]
    head = (
        "| pattern | documents | state | wall s | wall ÷ ideal | "
        + " | ".join(f"CPU-s {n}" for n in names)
        + " | triggerer peak RSS MB | requests/doc | status GETs/doc |"
    )
    lines = [head, "|" + "---|" * (9 + len(names) - 1)]
    for r in results:
        lines.append(
            f"| {r.pattern} | {r.documents:,} | {r.state} | {r.wall_s} | {r.wall_over_ideal:.2f} | "
            + " | ".join(str(r.cpu_s.get(n, "")) for n in names)
            + f" | {r.triggerer_peak_rss_mb} | {r.requests_per_doc} | {r.status_requests_per_doc} |"
        )
    return "\n".join(lines)


def plot(results: list[Result], path: Path, processing: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for pattern, label in (("mapped", "one mapped task per document"), ("batch", "GenerateBatchOperator")):
        points = sorted(
            (r.documents, r.wall_s) for r in results if r.pattern == pattern and r.state == "success"
        )
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=label)
    ax.axhline(processing, color="grey", linestyle=":", label=f"server-side ideal ({processing:g} s)")
    ax.set_xscale("log")
    ax.set_xlabel("documents")
    ax.set_ylabel("wall time (s)")
    ax.set_title(f"Many documents, {processing:g} s per prediction (dev server)")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


async def sweep_comparison(n: int, concurrency: int = 50) -> dict[str, float]:
    """One status sweep over ``n`` in-flight predictions: a GET per id vs pages of the list route."""
    import asyncio

    from airflow_provider_vlm.client import AsyncVlmClient

    with running("--processing-time", "3600", "--api-key", KEY) as server:
        async with AsyncVlmClient(KEY, server.base_url, max_connections=concurrency) as client:
            gate = asyncio.Semaphore(concurrency)

            async def create(i: int) -> str:
                async with gate:
                    url = f"https://example.com/doc-{i}.pdf"
                    return (await client.document.generate(domain="document.receipt", url=url, batch=True)).id

            ids = await asyncio.gather(*(create(i) for i in range(n)))
            cpu0, t0 = server.cpu_seconds(), time.perf_counter()

            async def get(pid: str) -> Any:
                async with gate:
                    return await client.predictions.get(pid)

            await asyncio.gather(*(get(pid) for pid in ids))
            per_id = (time.perf_counter() - t0, server.cpu_seconds() - cpu0)
            cpu0, t0 = server.cpu_seconds(), time.perf_counter()
            wanted, seen, skip, pages = set(ids), 0, 0, 0
            while seen < len(wanted):
                page = await client.predictions.list(skip=skip, limit=1000)
                pages += 1
                seen += sum(1 for p in page if p.id in wanted)
                skip += len(page)
                if len(page) < 1000:
                    break
            listed = (time.perf_counter() - t0, server.cpu_seconds() - cpu0)
    return {
        "documents": n,
        "per_id_requests": n,
        "per_id_wall_s": round(per_id[0], 2),
        "per_id_server_cpu_s": round(per_id[1], 2),
        "list_requests": pages,
        "list_wall_s": round(listed[0], 2),
        "list_server_cpu_s": round(listed[1], 2),
    }


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    if keep:
        yield Path(tempfile.mkdtemp(prefix="vlm-bench-"))
    else:
        with tempfile.TemporaryDirectory(prefix="vlm-bench-") as tmp:
            yield Path(tmp)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processing-time", type=float, default=20.0)
    parser.add_argument("--mapped", type=int, nargs="*", default=[100, 1000])
    parser.add_argument("--batch", type=int, nargs="*", default=[100, 1000, 10000])
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--plot", type=Path, default=Path("docs/img/batch_vs_mapped.png"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the Airflow home and logs")
    parser.add_argument("--sweep", type=int, default=0, help="only compare one status sweep over N ids")
    parser.add_argument("--from-json", type=Path, default=None, help="only redraw the table and plot")
    args = parser.parse_args()
    if args.from_json:
        saved = [Result(**r) for r in json.loads(args.from_json.read_text())]
        print(table(saved))
        plot(saved, args.plot, args.processing_time)
        return 0
    if args.sweep:
        import asyncio

        print(json.dumps(asyncio.run(sweep_comparison(args.sweep))))
        return 0

    results: list[Result] = []
    with (
        workdir(args.keep) as work,
        running("--processing-time", str(args.processing_time), "--api-key", KEY) as server,
    ):
        airflow = Airflow(work / "airflow", server, args.parallelism)
        try:
            airflow.start_benchmark()
            plan = [("batch", n) for n in args.batch] + [("mapped", n) for n in args.mapped]
            for pattern, n in plan:
                print(f"running {pattern} x {n:,} ...", flush=True)
                result = scenario(airflow, pattern, n, work, args.processing_time)
                results.append(result)
                print(json.dumps(asdict(result)), flush=True)
        finally:
            airflow.stop_all()
            if args.keep:
                print(f"kept {work}")
    print(table(results))
    plot(results, args.plot, args.processing_time)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
