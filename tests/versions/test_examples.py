"""The example DAGs on this line: every one parses, and one runs end to end."""

from __future__ import annotations

import warnings

import pytest
from dagrun import dagbag

from conftest import EXAMPLES, DagResult

EXAMPLE_DAG_IDS = {
    "vlm_nightly_invoices",
    "vlm_chained_extraction",
    "vlm_submit_then_sense",
    "vlm_mapped_documents",
    "vlm_taskflow_invoices",
}


def test_example_dags_parse_without_import_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))  # a DAGs folder is on sys.path (vlm_demo)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bag = dagbag(str(EXAMPLES))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) >= EXAMPLE_DAG_IDS, sorted(bag.dag_ids)


@pytest.mark.timeout(900)
def test_submit_then_sense_example_runs(dag_runs: dict[str, DagResult], invoices: list[str]) -> None:
    result = dag_runs["vlm_submit_then_sense"]
    assert result.state == "success", result.tail()
    collected = result.xcom("collect")
    assert collected["count"] == len(invoices) and collected["by_status"] == {"completed": len(invoices)}
    assert result.stats["predictions_created"] == len(invoices), result.stats
    assert sorted(result.stats["submissions"].values()) == [1] * len(invoices), result.stats
