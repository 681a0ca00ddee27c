"""Every test DAG folder parses with no environment set: a ``dag.test()`` run loads the whole folder,
so one file that fails to parse fails every test that uses the folder."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
# Folders of DAG files (tests/example_dags holds tests of the examples, not DAGs).
FOLDERS = sorted(
    d for d in ROOT.rglob("*dags") if d.is_dir() and d.name != "example_dags" and any(d.glob("*.py"))
)


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_dag_folder_parses_without_the_harness_environment(
    folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    for name in [
        "VLM_TEST_INVOICE",
        "VLM_TEST_INVOICES",
        "VLM_TEST_OUTPUT",
        "VLM_BATCH_SOURCE",
        "VLM_BATCH_OUTPUT",
        "VLM_BATCH_INPUTS",
    ]:
        monkeypatch.delenv(name, raising=False)
    bag = DagBag(dag_folder=str(folder))
    assert bag.import_errors == {}
    assert bag.dag_ids
