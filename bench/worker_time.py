"""Worker time held per prediction: deferrable ``GenerateOperator`` vs a blocking wait.

    python bench/worker_time.py [--processing-time 30] [--runs 3] [--file invoice.pdf]
                                [--sdk-python PATH] [--json results.json]

Real processes: the dev server (each prediction takes ``--processing-time`` seconds), then
Airflow's api-server, scheduler (LocalExecutor), dag-processor and triggerer (SQLite, 127.0.0.1,
free ports, connection stored in the metadata DB). Three one-task DAGs do the same work (upload
the file with the md5 dedupe, submit one ``document.invoice`` prediction, wait for it), polling
every 5 s:

- ``deferrable``: ``GenerateOperator(deferrable=True)``: the wait runs in the triggerer;
- ``sdk_blocking``: the official SDK (``vlmrun``) ``client.predictions.wait`` in an
  ``ExternalPythonOperator`` on the SDK's own virtual environment (its pins clash with
  Airflow's); made once in ``.venv-sdk/`` in the project root unless ``--sdk-python`` is given;
- ``provider_blocking``: ``GenerateOperator(deferrable=False)``: the same wait, in the worker.

Worker time is measured from outside, on the worker processes themselves: every task run is a
process titled ``airflow worker -- <task instance id>`` forked by a LocalExecutor worker; a
sampler (every 50 ms) records each such process's creation time and the last time it was seen,
and its CPU time (children included: the SDK's interpreter is a child). A deferring task is two
such processes (``execute`` until it defers, then ``execute_complete`` after the trigger fires);
its worker time is the sum of both lifetimes, and includes each process's start-up. The task
instance's own start→end span (which covers the deferral) is reported beside it.

One warm-up run per mode (1 s predictions) is not counted; the counted runs rotate the order of
the modes from one round to the next.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from airflow_provider_vlm.devserver.process import running

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sample_invoice import sample_invoice

from tests.cluster import LocalAirflow, running_airflow

ROOT = Path(__file__).resolve().parents[1]
SDK_REQUIREMENT = "vlmrun==0.9.*"
KEY = "bench-key"
TITLE = "airflow worker -- "
MODES = ("deferrable", "sdk_blocking", "provider_blocking")
LABELS = {
    "deferrable": "GenerateOperator(deferrable=True)",
    "sdk_blocking": "SDK predictions.wait in ExternalPythonOperator",
    "provider_blocking": "GenerateOperator(deferrable=False)",
}

DAG_FILE = textwrap.dedent(
    '''
    """Worker-time benchmark: one prediction per run, waited three ways (see bench/worker_time.py)."""

    from __future__ import annotations

    import os
    from datetime import datetime

    from airflow.providers.standard.operators.python import ExternalPythonOperator
    from airflow.sdk import DAG

    from airflow_provider_vlm.operators.generate import GenerateOperator

    FILE = os.environ.get("VLM_BENCH_FILE", "missing.pdf")
    SDK_PYTHON = os.environ.get("VLM_BENCH_SDK_PYTHON", "python3")
    START = datetime(2026, 1, 1)
    WAIT = {"poll_interval": 5.0, "max_poll_interval": 5.0, "timeout": 600}


    def sdk_wait(file: str, base_url: str, api_key: str) -> dict:
        """The official SDK's blocking path: upload (md5 dedupe), submit, predictions.wait."""
        from pathlib import Path

        from vlmrun.client import VLMRun

        client = VLMRun(api_key=api_key, base_url=base_url)
        submitted = client.document.generate(file=Path(file), domain="document.invoice", batch=True)
        done = client.predictions.wait(submitted.id, timeout=600, sleep=5)
        return {"id": done.id, "status": str(done.status)}


    def _dag(dag_id: str) -> DAG:
        return DAG(dag_id, schedule=None, start_date=START, catchup=False, is_paused_upon_creation=False)


    with _dag("bench_deferrable"):
        GenerateOperator(task_id="extract", domain="document.invoice", file=FILE, deferrable=True, **WAIT)

    with _dag("bench_provider_blocking"):
        GenerateOperator(task_id="extract", domain="document.invoice", file=FILE, deferrable=False, **WAIT)

    with _dag("bench_sdk_blocking"):
        ExternalPythonOperator(
            task_id="extract",
            python=SDK_PYTHON,
            python_callable=sdk_wait,
            expect_airflow=False,
            op_kwargs={
                "file": FILE,
                "base_url": "{{ conn.vlm_default.host }}",
                "api_key": "{{ conn.vlm_default.password }}",
            },
        )
    '''
)


# --- worker processes --------------------------------------------------------------------------


@dataclass
class TaskProcess:
    ti_id: str
    pid: int
    started: float
    last_seen: float
    cpu: float = 0.0

    @property
    def seconds(self) -> float:
        return self.last_seen - self.started


def _tree_cpu(proc: psutil.Process) -> float:
    """CPU seconds of a process, its reaped children and its live descendants."""
    times = proc.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child_times = child.cpu_times()
            total += child_times.user + child_times.system
    return float(total)


class Sampler:
    """Polls the process table for task processes (``airflow worker -- <ti id>``)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.seen: dict[int, TaskProcess] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            at = time.time()
            for proc in psutil.process_iter(["cmdline", "create_time"]):
                with contextlib.suppress(psutil.Error):
                    title = " ".join(proc.info["cmdline"] or [])
                    if not title.startswith(TITLE):
                        continue
                    ti_id = title[len(TITLE) :].split()[0]
                    entry = self.seen.get(proc.pid)
                    if entry is None or entry.ti_id != ti_id:
                        entry = TaskProcess(ti_id, proc.pid, proc.info["create_time"], at)
                        self.seen[proc.pid] = entry
                    entry.last_seen = at
                    entry.cpu = max(entry.cpu, _tree_cpu(proc))
            self._stop.wait(self.interval)

    def for_task(self, ti_id: str) -> list[TaskProcess]:
        key = ti_id.replace("-", "")
        return sorted(
            (p for p in self.seen.values() if p.ti_id.replace("-", "") == key), key=lambda p: p.started
        )


# --- Airflow -----------------------------------------------------------------------------------


@contextlib.contextmanager
def airflow_running(home: Path, base_url: str, extra_env: dict[str, str]) -> Iterator[LocalAirflow]:
    dags = home / "dags"
    dags.mkdir(parents=True)
    (dags / "bench_worker_time.py").write_text(DAG_FILE)
    with running_airflow(home, dags, base_url, KEY, extra_env=extra_env) as airflow:
        yield airflow


def _parse_time(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# --- one run -----------------------------------------------------------------------------------


@dataclass
class Run:
    mode: str
    run_id: str
    state: str
    worker_seconds: float
    worker_processes: int
    worker_cpu: float
    task_span: float | None
    server_polls: int = 0
    processes: list[dict[str, float]] = field(default_factory=list)


def run_once(airflow: LocalAirflow, sampler: Sampler, server: Any, mode: str, index: int) -> Run:
    dag_id = f"bench_{mode}"
    run_id = f"{mode}_{index}" if index >= 0 else f"{mode}_warmup"
    polls_before = _polls(server)
    airflow.cli("dags", "trigger", dag_id, "--run-id", run_id)
    (state,) = airflow.wait_for(
        f"{dag_id} {run_id} to finish",
        lambda: airflow.query(
            "select state from dag_run where dag_id=? and run_id=? and state in ('success','failed')",
            dag_id,
            run_id,
        ),
        900,
    )[0]
    ((ti_id, start, end),) = airflow.query(
        "select id, start_date, end_date from task_instance where dag_id=? and run_id=?", dag_id, run_id
    )
    time.sleep(0.3)  # let the sampler see the task process go
    procs = sampler.for_task(str(ti_id))
    started, ended = _parse_time(start), _parse_time(end)
    return Run(
        mode=mode,
        run_id=run_id,
        state=state,
        worker_seconds=sum(p.seconds for p in procs),
        worker_processes=len(procs),
        worker_cpu=sum(p.cpu for p in procs),
        task_span=(ended - started) if started and ended else None,
        server_polls=_polls(server) - polls_before,
        processes=[{"seconds": round(p.seconds, 3), "cpu": round(p.cpu, 3)} for p in procs],
    )


def _polls(server: Any) -> int:
    stats = httpx.get(server.base_url + "/_dev/stats", timeout=10).json()
    return int(stats["requests"].get("GET /predictions/{id}", 0))


def _set_processing_time(server: Any, seconds: float) -> None:
    httpx.post(
        server.base_url + "/_dev/faults", json={"processing_time": seconds}, timeout=10
    ).raise_for_status()


# --- the SDK's environment ---------------------------------------------------------------------


def sdk_python(given: str | None) -> str:
    """The SDK's interpreter: ``--sdk-python``, else ``.venv-sdk`` in the project (made once)."""
    if given:
        return given
    venv = ROOT / ".venv-sdk"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        print(f"making the SDK's virtual environment ({SDK_REQUIREMENT}) in .venv-sdk/ ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", SDK_REQUIREMENT], check=True, timeout=900)
    return str(python)


# --- report ------------------------------------------------------------------------------------


def table(runs: list[Run], processing_time: float) -> str:
    by_mode = {mode: [r for r in runs if r.mode == mode] for mode in MODES}
    base = statistics.mean(r.worker_seconds for r in by_mode["deferrable"])
    lines = [
        f"prediction processing time {processing_time:g} s; poll every 5 s; "
        f"{len(by_mode['deferrable'])} run(s) per mode",
        "",
        "| waited by | runs ok | worker-seconds per prediction (mean, min-max) | worker processes | "
        "worker CPU-s | task start→end s | ratio to deferrable |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, group in by_mode.items():
        held = [r.worker_seconds for r in group]
        spans = [r.task_span for r in group if r.task_span is not None]
        ok = sum(r.state == "success" for r in group)
        lines.append(
            f"| {LABELS[mode]} | {ok}/{len(group)} | {statistics.mean(held):.1f} "
            f"({min(held):.1f}-{max(held):.1f}) | "
            f"{statistics.mean(r.worker_processes for r in group):g} | "
            f"{statistics.mean(r.worker_cpu for r in group):.1f} | "
            f"{statistics.mean(spans):.1f} | {statistics.mean(held) / base:.1f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processing-time", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3, help="runs per mode, interleaved (default 3)")
    parser.add_argument(
        "--file", type=Path, help="the document to extract (default: bench/sample_invoice.py's invoice)"
    )
    parser.add_argument("--sdk-python", help="interpreter with vlmrun installed (default: .venv-sdk/)")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    args = parser.parse_args(argv)
    args.file = args.file or sample_invoice()
    if not args.file.is_file():
        parser.error(f"--file {args.file} does not exist; give a PDF invoice")

    python = sdk_python(args.sdk_python)
    runs: list[Run] = []  # counted runs only
    with (
        running("--processing-time", str(args.processing_time), "--api-key", KEY) as server,
        tempfile.TemporaryDirectory(prefix="vlm-bench-") as tmp,
    ):
        env = {"VLM_BENCH_FILE": str(args.file.resolve()), "VLM_BENCH_SDK_PYTHON": python}
        with airflow_running(Path(tmp), server.base_url, env) as airflow, Sampler() as sampler:
            airflow.wait_for(
                "the DAGs to be parsed",
                lambda: (
                    len(airflow.query("select dag_id from dag where dag_id like 'bench_%'")) == len(MODES)
                ),
                180,
            )
            # Warm-up, not counted: the first task of each kind pays one-off costs (imports in the
            # executor's workers, the first upload of the file).
            _set_processing_time(server, 1.0)
            for mode in MODES:
                run_once(airflow, sampler, server, mode, -1)
            _set_processing_time(server, args.processing_time)
            for index in range(args.runs):
                for mode in MODES[index % len(MODES) :] + MODES[: index % len(MODES)]:
                    run = run_once(airflow, sampler, server, mode, index)
                    print(
                        f"{mode:>18} run {index}: {run.state}, worker {run.worker_seconds:.1f} s in "
                        f"{run.worker_processes} process(es), CPU {run.worker_cpu:.1f} s, "
                        f"task span {run.task_span or 0:.1f} s, polls {run.server_polls}",
                        file=sys.stderr,
                        flush=True,
                    )
                    runs.append(run)
    print(table(runs, args.processing_time))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in runs], indent=2))
    return 0 if all(r.state == "success" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
