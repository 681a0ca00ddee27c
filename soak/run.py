"""One soak: bring the deployment up, publish the inputs, run the DAGs under chaos, report.

The nightly job runs as the scheduler runs it: the invoices go to the folder of the night the
latest 02:00 run covers, and unpausing the DAG makes the scheduler create that run. The 50 mapped
single-document tasks and the submit-then-sense DAG are triggered beside it with their ``source``
param pointing at their own folders.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from soak import report as reporting
from soak.chaos import KINDS, Chaos, Fault
from soak.deploy import BUCKET, S3_CONN, Deployment, Settings, wait_for
from soak.workload import BucketStore, Document, FolderStore, Store, make_documents, publish

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "example_dags"
NIGHTLY, MAPPED, SENSE = "vlm_nightly_invoices", "vlm_mapped_documents", "vlm_submit_then_sense"


@dataclass
class Workload:
    docs: int = 2000
    mapped_docs: int = 50
    sense_docs: int = 20
    night: date | None = None  # default: the night the latest 02:00 UTC run covers
    plan: list[str] = field(default_factory=lambda: list(KINDS))
    outage_s: float = 330.0
    restart_killed: bool = True
    timeout_s: float = 3 * 3600.0


def _dags_folder(workdir: Path, dag_ids: list[str]) -> Path:
    """Only the example DAGs the soak runs; the examples folder stays on sys.path for vlm_demo."""
    folder = workdir / "dags"
    folder.mkdir(parents=True, exist_ok=True)
    for dag_id in dag_ids:
        link = folder / f"{dag_id}.py"
        if not link.exists():
            link.symlink_to(EXAMPLES / f"{dag_id}.py")
    return folder


def run(settings: Settings, work: Workload, docs_page: Path | None = None) -> dict[str, Any]:
    """Run one soak and return its report (also written to ``<workdir>/soak-report.json``)."""
    workdir = settings.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    dag_ids = [NIGHTLY, *([MAPPED] if work.mapped_docs else []), *([SENSE] if work.sense_docs else [])]
    print(f"Soak in {workdir}: {work.docs} invoices, plan {work.plan}, seed {settings.seed}", flush=True)
    folder = FolderStore(workdir / "bucket")
    prefix = f"s3://{S3_CONN}@{BUCKET}" if settings.storage == "s3" else folder.uri("").rstrip("/")
    # The nightly DAG reads its folders' defaults from the environment of every process.
    extra = {
        "PYTHONPATH": str(EXAMPLES),
        "VLM_INVOICE_SOURCE": f"{prefix}/inbox",
        "VLM_INVOICE_OUTPUT": f"{prefix}/output",
        # Its max_credits Variable: the default (100) fits a real night, not thousands of
        # documents; ten credits per one-page document leaves room for any tier's rate.
        "AIRFLOW_VAR_VLM_INVOICE_MAX_CREDITS": str(10 * max(work.docs, 1)),
    }
    with Deployment(settings, _dags_folder(workdir, dag_ids)) as d:
        d.up(extra)
        store: Store = folder
        if settings.storage == "s3":
            assert d.s3_endpoint is not None
            store = BucketStore(d.s3_endpoint, BUCKET, S3_CONN)
        night = (work.night or latest_night()).isoformat()
        nightly_docs = make_documents(work.docs, "inv", settings.seed)
        publish(store, f"inbox/{night}", nightly_docs)
        publish(store, "mapped", make_documents(work.mapped_docs, "map", settings.seed, broken=False))
        publish(store, "sense", make_documents(work.sense_docs, "sense", settings.seed, broken=False))
        a = d.airflow
        a.wait_for(
            "the DAGs to be parsed",
            lambda: len(a.query("select dag_id from dag where dag_id = any(?)", dag_ids)) == len(dag_ids),
            300,
        )
        for dag_id in dag_ids:
            a.cli("dags", "unpause", dag_id)

        started = time.monotonic()
        if work.night is not None:  # a night other than the latest: caught up with a backfill
            run_after = (work.night + timedelta(days=1)).isoformat() + "T02:00:00+00:00"
            a.cli(
                "backfill", "create", "--dag-id", NIGHTLY, "--from-date", run_after, "--to-date", run_after,
            )  # fmt: skip
        if work.mapped_docs:
            conf = json.dumps({"source": store.uri("mapped")})
            a.cli("dags", "trigger", MAPPED, "-r", "soak-mapped", "-c", conf)
        if work.sense_docs:
            conf = json.dumps({"source": store.uri("sense")})
            a.cli("dags", "trigger", SENSE, "-r", "soak-sense", "-c", conf)

        # Strike the triggerers once most waits are deferred (one trigger per mapped task or
        # sensor, one for the whole batch).
        waits = 1 + work.mapped_docs + work.sense_docs
        chaos = Chaos(d, seed=settings.seed, started=started, outage_s=work.outage_s,
                      restart_killed=work.restart_killed, min_triggers=max(1, waits // 2))  # fmt: skip
        failures: list[str] = []

        def strike() -> None:
            try:
                chaos.run(work.plan)
            except Exception:
                failures.append(traceback.format_exc(limit=3))

        striker = threading.Thread(target=strike, daemon=True)
        striker.start()

        def finished() -> bool:
            rows = _runs(d, dag_ids, night)
            return len(rows) == len(dag_ids) and all(r["state"] in ("success", "failed") for r in rows)

        wait_for("every run to finish", finished, work.timeout_s, 2.0)
        wall = time.monotonic() - started
        chaos.stop.set()
        striker.join(timeout=120)
        for failure in failures:
            print(f"  chaos could not strike:\n{failure}", flush=True)

        runs = _runs(d, dag_ids, night)
        result_lines, lost = _results(d, store, night, nightly_docs, work)
        tries = a.query(
            "select coalesce(sum(try_number), 0) from task_instance where run_id = any(?)",
            [r["run_id"] for r in runs],
        )[0][0]
        d.stop_devserver()  # its last stats snapshot
        # The server-side minimum: every prediction submitted at once takes one processing time;
        # the outage falls inside the waits (it starts once the batch has deferred).
        ideal = settings.processing_time
        report = reporting.build(
            inputs=len(nightly_docs) + work.mapped_docs + work.sense_docs,
            result_lines=result_lines,
            lost_inputs=lost,
            stats_snapshots=d.stats_before_restarts,
            state=d.devserver_state,
            runs=runs,
            task_tries=int(tries),
            faults=[f.to_wire() for f in chaos.faults],
            wall_s=wall,
            ideal_s=ideal,
            settings={**{k: v for k, v in asdict(settings).items() if k != "workdir"}, "docs": work.docs},
        )
        report["faults_planned"] = work.plan
        report["chaos_errors"] = len(failures)
    reporting.write(report, workdir / "soak-report.json")
    if docs_page is not None:
        reporting.update_docs(report, docs_page)
    return report


def latest_night(now: datetime | None = None) -> date:
    """The day the latest 02:00 UTC run processes (the nightly DAG's timetable)."""
    now = now or datetime.now(timezone.utc)
    run_after = now.date() if now.hour >= 2 else now.date() - timedelta(days=1)
    return run_after - timedelta(days=1)


def _runs(d: Deployment, dag_ids: list[str], night: str) -> list[dict[str, Any]]:
    """The soak's runs: the nightly run of ``night`` and the triggered ones."""
    rows = d.airflow.query(
        "select dag_id, run_id, state::text from dag_run where dag_id = any(?)"
        " and (run_type = 'manual' or to_char(data_interval_start, 'YYYY-MM-DD') = ?) order by dag_id",
        dag_ids,
        night,
    )
    return [{"dag_id": r[0], "run_id": r[1], "state": r[2]} for r in rows]


def _results(
    d: Deployment, store: Store, night: str, nightly_docs: list[Document], work: Workload
) -> tuple[int, list[str]]:
    """Result lines per input: the nightly's ``invoices.jsonl``, and one finished task per document."""
    raw = store.get(f"output/{night}/invoices.jsonl") or b""
    lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
    seen = {str(row.get("input", "")).rsplit("/", 1)[-1] for row in lines}
    lost = [doc.name for doc in nightly_docs if doc.name not in seen]
    count = len(lines)
    for dag_id, task_id, total in ((MAPPED, "extract", work.mapped_docs), (SENSE, "wait", work.sense_docs)):
        if not total:
            continue
        done = d.airflow.query(
            "select map_index from task_instance where dag_id=? and task_id=? and state='success'",
            dag_id,
            task_id,
        )
        count += len(done)
        indexes = {int(r[0]) for r in done}
        lost += [f"{dag_id}[{i}]" for i in range(total) if i not in indexes]
    return count, lost


__all__ = ["Fault", "Workload", "run"]
