"""The nightly example as the scheduler runs it: the 02:00 run processes the day that has just ended.

The unit test reads the timetable; the end-to-end test backfills three past nights through a real
scheduler (SQLite, LocalExecutor) against the dev server, then clears one night, and checks that
each night's folder was extracted exactly once per run and the cleared night again.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import LocalAirflow
from tests.conftest import EXAMPLES
from tests.invoices import InvoiceSet

NIGHTS = ["2026-11-17", "2026-11-18", "2026-11-19"]
DAG_ID = "vlm_nightly_invoices"
SECRET = "sk-nightly-schedule-3f1a"


def test_the_0200_run_covers_the_previous_day() -> None:
    from airflow.dag_processing.dagbag import DagBag

    from vlm_demo.run import run_logical_date

    dag = DagBag(dag_folder=str(EXAMPLES / "vlm_nightly_invoices.py")).dags[DAG_ID]
    run_after = datetime(2026, 11, 21, 2, 0, tzinfo=timezone.utc)
    interval = dag.timetable.infer_manual_data_interval(run_after=run_after)
    assert interval.start == datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
    assert interval.end == run_after
    # The demo runs the DAG for the run that processes the generated day.
    assert run_logical_date(datetime(2026, 11, 20).date()) == "2026-11-21T02:00:00+00:00"


def _stage_nights(inbox: Path, invoice_set: InvoiceSet) -> dict[str, list[str]]:
    """Two different invoices per night, so each night's results name their own files."""
    pdfs = [invoice.path for invoice in invoice_set.good]
    staged: dict[str, list[str]] = {}
    for i, night in enumerate(NIGHTS):
        folder = inbox / night
        folder.mkdir(parents=True)
        picks = pdfs[2 * i : 2 * i + 2]
        for pdf in picks:
            shutil.copy(pdf, folder / pdf.name)
        staged[night] = sorted(p.name for p in picks)
    return staged


def _runs(airflow: LocalAirflow) -> list[tuple[Any, ...]]:
    return airflow.query(
        "select run_id, state, data_interval_start, clear_number, logical_date from dag_run"
        " where dag_id=? and run_type='backfill' order by data_interval_start",
        DAG_ID,
    )


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_backfill_three_nights_then_clear_one(tmp_path: Path, invoice_set: InvoiceSet) -> None:
    pytest.importorskip("psycopg2", reason="needs the soak extra (PostgreSQL driver)")
    from soak.deploy import Deployment, Settings

    inbox, output = tmp_path / "inbox", tmp_path / "output"
    staged = _stage_nights(inbox, invoice_set)
    # A DAGs folder with the nightly DAG alone (it imports nothing from the demo package).
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "vlm_nightly_invoices.py").symlink_to(EXAMPLES / "vlm_nightly_invoices.py")
    extra = {
        "PYTHONPATH": str(EXAMPLES),
        "VLM_INVOICE_SOURCE": inbox.as_uri(),
        "VLM_INVOICE_OUTPUT": output.as_uri(),
    }
    # SQLite locks under a backfill while the scheduler runs: the metadata DB is PostgreSQL.
    settings = Settings(
        tmp_path / "run", executor="LocalExecutor", triggerers=1, storage="file", processing_time=1,
        error_rate=0, rate_limit_rate=0, drop_rate=0, parallelism=4,
    )  # fmt: skip
    with Deployment(settings, dags) as deployment:
        deployment.up(extra)
        airflow = deployment.airflow
        airflow.wait_for(
            "the nightly DAG to be parsed",
            lambda: airflow.query("select 1 from dag where dag_id=?", DAG_ID),
            180,
        )
        airflow.cli("dags", "unpause", DAG_ID)
        # The three runs at 02:00 of the 18th, 19th and 20th: the nights of the 17th to 19th.
        first = datetime.fromisoformat(NIGHTS[0]) + timedelta(days=1, hours=2)
        last = datetime.fromisoformat(NIGHTS[-1]) + timedelta(days=1, hours=2)
        airflow.cli(
            "backfill", "create", "--dag-id", DAG_ID,
            "--from-date", first.isoformat(), "--to-date", last.isoformat(),
        )  # fmt: skip

        def all_succeeded() -> bool:
            runs = _runs(airflow)
            return len(runs) == 3 and all(r[1] == "success" for r in runs)

        airflow.wait_for("three backfilled runs to succeed", all_succeeded, 480)
        assert [r[2].date().isoformat() for r in _runs(airflow)] == NIGHTS
        for night in NIGHTS:
            rows = _rows(output, night)
            assert sorted(r["input"].rsplit("/", 1)[-1] for r in rows) == staged[night]
            assert all(r["status"] == "completed" for r in rows), rows
        first_ids = {night: {r["prediction_id"] for r in _rows(output, night)} for night in NIGHTS}
        created = deployment.dev_stats()["predictions_created"]
        assert created == sum(len(v) for v in staged.values())

        # A Clear of one night means "extract that night again": new predictions, same folder.
        cleared = NIGHTS[1]
        (logical,) = [r[4] for r in _runs(airflow) if r[2].date().isoformat() == cleared]
        when = logical.isoformat()
        airflow.cli("tasks", "clear", DAG_ID, "--yes", "--start-date", when, "--end-date", when)
        airflow.wait_for(
            "the cleared night to run again",
            lambda: any(r[3] >= 1 and r[1] == "success" for r in _runs(airflow)),
            300,
        )
        again = {r["prediction_id"] for r in _rows(output, cleared)}
        assert again and not (again & first_ids[cleared])
        assert deployment.dev_stats()["predictions_created"] == created + len(staged[cleared])
        for night in (NIGHTS[0], NIGHTS[2]):
            assert {r["prediction_id"] for r in _rows(output, night)} == first_ids[night]


def _rows(output: Path, night: str) -> list[dict[str, Any]]:
    path = output / night / "invoices.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]
