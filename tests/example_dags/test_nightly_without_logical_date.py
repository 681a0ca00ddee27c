"""The nightly example alone in a DAG folder, triggered without a logical date, and its empty night.

Each run is ``dag.test()`` in a child process (``_no_logical_date.py``, built on
``tests/dags/_harness.py``) whose DAG folder holds only ``vlm_nightly_invoices.py`` and where the
demo package is not importable: what a user gets who copies the file into a deployment.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES
from tests.invoices import InvoiceSet

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "tests" / "dags"
if str(HARNESS) not in sys.path:
    sys.path.insert(0, str(HARNESS))

import _harness  # noqa: E402

# The night's predictions end at once: these tests are about which night runs, not waiting.
pytestmark = pytest.mark.processing_time(0.1)

DAG_ID = "vlm_nightly_invoices"
DRIVER = Path(__file__).resolve().parent / "_no_logical_date.py"
RUN_TIMEOUT = 240.0


@pytest.fixture(scope="module")
def lone_dag(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A migrated ``AIRFLOW_HOME`` and a DAG folder holding a copy of the nightly DAG file only."""
    home = tmp_path_factory.mktemp("nightly_home")
    _harness.migrate(home)
    dags = tmp_path_factory.mktemp("nightly_dags")
    shutil.copy(EXAMPLES / "vlm_nightly_invoices.py", dags / "vlm_nightly_invoices.py")
    return home, dags


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    inbox, output = tmp_path / "inbox", tmp_path / "output"
    inbox.mkdir()
    return inbox, output


def stage(inbox: Path, night: str, pdfs: list[Path]) -> list[str]:
    folder = inbox / night
    folder.mkdir(parents=True, exist_ok=True)
    for pdf in pdfs:
        shutil.copy(pdf, folder / pdf.name)
    return sorted(pdf.name for pdf in pdfs)


def run_nightly(
    lone_dag: tuple[Path, Path],
    dev: Any,
    folders: tuple[Path, Path],
    run_after: str,
    conf: dict[str, Any] | None = None,
) -> _harness.DagResult:
    """``dag.test()`` of the lone nightly DAG with no logical date and ``run_after``; the DB read back."""
    home, dags = lone_dag
    inbox, output = folders
    extra = {
        # Only the DAG folder: not the examples folder, so vlm_demo cannot be imported.
        "PYTHONPATH": str(dags),
        "VLM_INVOICE_SOURCE": inbox.as_uri(),
        "VLM_INVOICE_OUTPUT": output.as_uri(),
        "VLM_TEST_RUN_AFTER": run_after,
    }
    argv = [sys.executable, str(DRIVER), DAG_ID, "--conf", json.dumps(conf or {}), "--dags", str(dags)]
    proc = subprocess.run(
        argv,
        env=_harness.airflow_env(home, dev.base_url, dev.api_key, extra, dags),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    result = _harness.DagResult(proc.returncode, proc.stdout + proc.stderr)
    for line in proc.stdout.splitlines():
        if line.startswith(_harness.MARKER):
            data = json.loads(line[len(_harness.MARKER) :])
            result.state, result.tasks, result.xcoms = data["state"], data["tasks"], data["xcoms"]
    assert result.returncode == 0 and result.state is not None, result.tail()
    return result


def rows(output: Path, night: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (output / night / "invoices.jsonl").read_text().splitlines()]


def test_the_file_parses_alone_without_the_demo_package(lone_dag: tuple[Path, Path]) -> None:
    home, dags = lone_dag
    code = (
        "import importlib.util, sys\n"
        "assert importlib.util.find_spec('vlm_demo') is None, 'vlm_demo is importable'\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(dags)!r})\n"
        "assert bag.import_errors == {}, bag.import_errors\n"
        "print(sorted(bag.dag_ids))\n"
    )
    env = _harness.airflow_env(home, "http://127.0.0.1:9", "unused", {"PYTHONPATH": str(dags)}, dags)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=dags, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"['{DAG_ID}']"


@pytest.mark.timeout(300)
def test_no_logical_date_runs_the_night_before_run_after(
    lone_dag: tuple[Path, Path], dev: Any, folders: tuple[Path, Path], invoice_set: InvoiceSet
) -> None:
    inbox, output = folders
    staged = stage(inbox, "2026-11-20", [i.path for i in invoice_set.good[:2]])
    stage(inbox, "2026-11-21", [invoice_set.good[2].path])  # the day of run_after: not this run's
    result = run_nightly(lone_dag, dev, folders, "2026-11-21T10:30:00+00:00")
    assert result.state == "success", result.tail()
    assert result.xcom("pick_night", "night") == "2026-11-20"
    got = rows(output, "2026-11-20")
    assert sorted(r["input"].rsplit("/", 1)[-1] for r in got) == staged
    assert all(r["status"] == "completed" and r["problems"] == [] for r in got), got
    assert not (output / "2026-11-21").exists()
    # The report is logged (the task log's default view), not printed.
    assert "invoices of the night of 2026-11-20" in result.output
    assert "All documents passed validation." in result.output


@pytest.mark.timeout(300)
def test_the_night_param_names_the_night(
    lone_dag: tuple[Path, Path], dev: Any, folders: tuple[Path, Path], invoice_set: InvoiceSet
) -> None:
    inbox, output = folders
    staged = stage(inbox, "2026-11-19", [invoice_set.good[3].path])
    result = run_nightly(lone_dag, dev, folders, "2026-11-22T09:00:00+00:00", {"night": "2026-11-19"})
    assert result.state == "success", result.tail()
    assert result.xcom("pick_night", "night") == "2026-11-19"
    assert [r["input"].rsplit("/", 1)[-1] for r in rows(output, "2026-11-19")] == staged


@pytest.mark.timeout(300)
def test_a_bad_night_fails_once_naming_the_value(
    lone_dag: tuple[Path, Path], dev: Any, folders: tuple[Path, Path]
) -> None:
    night = "2026-11-31"  # the right form, not a date: the other forms are in test_nightly_night.py
    result = run_nightly(lone_dag, dev, folders, "2026-11-23T09:00:00+00:00", {"night": night})
    assert result.state == "failed", result.tail()
    pick = result.task("pick_night")
    assert (pick["state"], pick["try_number"]) == ("failed", 1), result.tail()
    assert result.task("extract")["state"] == "upstream_failed"
    assert f"the night param is {night!r}: expected a date as YYYY-MM-DD" in result.output
    assert dev.stats()["predictions_created"] == 0


@pytest.mark.timeout(300)
def test_an_empty_night_fails_once_naming_the_folder(
    lone_dag: tuple[Path, Path], dev: Any, folders: tuple[Path, Path]
) -> None:
    inbox, output = folders
    (inbox / "2026-11-24").mkdir()
    (inbox / "2026-11-24" / "notes.txt").write_text("not an invoice")  # no PDF: an empty night
    result = run_nightly(lone_dag, dev, folders, "2026-11-25T02:00:00+00:00")
    assert result.state == "failed", result.tail()
    extract = result.task("extract")
    # The DAG retries its tasks 3 times; an empty night spends none of them.
    assert (extract["state"], extract["try_number"]) == ("failed", 1), result.tail()
    assert result.task("validate_and_report")["state"] == "upstream_failed"
    assert "BatchTooFewInputsError" in result.output
    assert f"0 inputs in {(inbox / '2026-11-24').as_uri()}" in result.output, result.tail()
    assert "fewer than min_inputs=1" in result.output
    assert dev.stats()["predictions_created"] == 0
    assert not (output / "2026-11-24" / "invoices.jsonl").exists()
