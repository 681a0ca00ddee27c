"""How often Airflow's defer race strikes deferrable tasks, with and without ``defer_after``.

    python bench/defer_race.py [--tasks 12] [--rounds 3] [--processing-time 2]
                               [--defer-after 0 5] [--burn 1] [--parallelism 4]

Real processes: the dev server (every prediction takes ``--processing-time`` seconds), then
Airflow's api-server, scheduler, dag-processor and triggerer (SQLite, LocalExecutor, 127.0.0.1,
free ports), and ``--burn`` busy-looping processes that keep a core loaded. One DAG per
``--defer-after`` value maps a deferrable ``GenerateOperator`` over ``--tasks`` small documents
(``retries=3``); the rounds trigger the DAGs in turn, so every setting meets the same load in the
same run. ``defer_after=0`` is the provider before the change: check once, then defer.

Counted per setting: tasks, tasks that deferred, the scheduler's "finished with state success,
but the task instance's state attribute is queued/running" (Airflow's ``state mismatch`` events:
the race), tries beyond the first, tasks that failed, predictions created (nothing may be
billed twice), and wall time per round. Output: a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx

from airflow_provider_vlm.devserver.process import running

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.cluster import LocalAirflow

KEY = "bench-key"

DAG_FILE = textwrap.dedent(
    '''
    """Benchmark DAGs: one per defer_after value, each mapping a deferrable GenerateOperator."""

    from __future__ import annotations

    import json
    import os
    from datetime import datetime, timedelta

    from airflow.sdk import DAG

    from airflow_provider_vlm.operators.generate import GenerateOperator

    for value in json.loads(os.environ["BENCH_DEFER_AFTER"]):
        with DAG(
            f"bench_race_{value:g}".replace(".", "_"),
            schedule=None,
            start_date=datetime(2026, 1, 1),
            catchup=False,
            is_paused_upon_creation=False,
            max_active_runs=1,
        ):
            GenerateOperator.partial(
                task_id="extract",
                domain="document.receipt",
                deferrable=True,
                defer_after=value,
                poll_interval=1.0,
                max_poll_interval=2.0,
                retries=3,
                retry_delay=timedelta(seconds=1),
            ).expand(file=json.loads(os.environ["BENCH_DOCUMENTS"]))
    '''
)


def dag_id(value: float) -> str:
    return f"bench_race_{value:g}".replace(".", "_")


@contextlib.contextmanager
def burners(count: int) -> Iterator[None]:
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processing-time", type=float, default=2.0)
    parser.add_argument("--defer-after", type=float, nargs="+", default=[0.0, 5.0])
    parser.add_argument("--burn", type=int, default=1)
    parser.add_argument("--parallelism", type=int, default=4)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="vlm-bench-race-") as tmp:
        work = Path(tmp)
        docs = work / "docs"
        docs.mkdir()
        files = []
        for i in range(args.tasks):
            path = docs / f"receipt-{i:03d}.txt"
            path.write_text(f"Receipt {i}\nTotal: {i}.50 EUR\n")
            files.append(str(path))
        dags = work / "dags"
        dags.mkdir()
        (dags / "bench_race_dags.py").write_text(DAG_FILE)
        extra = {
            "BENCH_DEFER_AFTER": json.dumps(args.defer_after),
            "BENCH_DOCUMENTS": json.dumps(files),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        }
        with (
            running("--processing-time", str(args.processing_time), "--api-key", KEY) as server,
            burners(args.burn),
        ):
            airflow = LocalAirflow(work / "home", dags, parallelism=args.parallelism, extra_env=extra)
            try:
                airflow.start_all(server.base_url, KEY)
                airflow.wait_for(
                    "the DAGs to be parsed",
                    lambda: len(airflow.query("select dag_id from dag")) >= len(args.defer_after),
                    300,
                    1.0,
                )
                admin = httpx.Client(base_url=server.base_url, timeout=30)
                walls: dict[float, list[float]] = {v: [] for v in args.defer_after}
                created: dict[float, int] = dict.fromkeys(args.defer_after, 0)
                for round_no in range(args.rounds):
                    for value in args.defer_after:
                        before = admin.get("/_dev/stats").json()["predictions_created"]
                        run_id = f"round_{round_no}"
                        dag = dag_id(value)
                        airflow.cli("dags", "trigger", dag_id(value), "--run-id", run_id)
                        (row,) = airflow.wait_for(
                            f"{dag_id(value)} {run_id}",
                            lambda dag=dag, run=run_id: airflow.query(
                                "select (julianday(end_date) - julianday(start_date)) * 86400 from dag_run "
                                "where dag_id=? and run_id=? and state in ('success', 'failed')",
                                dag,
                                run,
                            ),
                            900,
                            1.0,
                        )
                        walls[value].append(float(row[0]))
                        created[value] += admin.get("/_dev/stats").json()["predictions_created"] - before
                        print(f"round {round_no + 1}, defer_after={value:g}: {row[0]:.1f} s", flush=True)
                print()
                print(
                    "| defer_after | tasks | deferred | race (state mismatch) | tries beyond the first "
                    "| failed | predictions created | wall per round (median) |"
                )
                print("|---:|---:|---:|---:|---:|---:|---:|---:|")
                for value in args.defer_after:
                    dag = dag_id(value)
                    (tasks, extra_tries, failed) = airflow.query(
                        "select count(*), sum(try_number - 1), sum(state != 'success') from task_instance "
                        "where dag_id=? and task_id='extract'",
                        dag,
                    )[0]
                    (race,) = airflow.query(
                        "select count(*) from log where event='state mismatch' and dag_id=?", dag
                    )[0]
                    deferrals = _deferrals(airflow, dag)
                    median = sorted(walls[value])[len(walls[value]) // 2]
                    print(
                        f"| {value:g} s | {tasks} | {deferrals} | {race} | {extra_tries} | {failed} "
                        f"| {created[value]} | {median:.1f} s |"
                    )
            finally:
                airflow.stop_all()
    return 0


def _deferrals(airflow: LocalAirflow, dag: str) -> int:
    """Tries that deferred, from the task logs on disk (``Pausing task as DEFERRED``)."""
    logs = airflow.home / "logs" / f"dag_id={dag}"
    if not logs.exists():
        return 0
    return sum("Pausing task as DEFERRED" in p.read_text(errors="replace") for p in logs.rglob("*.log"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
