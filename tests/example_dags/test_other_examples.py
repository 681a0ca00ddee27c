"""The chained, submit-then-sense and mapped example DAGs, end to end against the dev server.

Each DAG runs with ``dag.test()`` in a fresh process (``tests/dags/_harness.py``) with its own
``AIRFLOW_HOME`` and ``AIRFLOW__CORE__DAGS_FOLDER`` set to the example DAGs package.
"""

from __future__ import annotations

import json
import shutil
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

RUN_TIMEOUT = 120.0


@pytest.fixture(scope="module")
def example_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("examples_home")
    _harness.migrate(home)
    return home


def run_example(home: Path, dev: Any, dag_id: str, conf: dict[str, Any] | None = None) -> _harness.DagResult:
    """``dag.test()`` of one example DAG in a child process; fails the test when the run did not succeed."""
    result = _harness.run_dag(
        home, dev.base_url, dev.api_key, dag_id, conf=conf, timeout=RUN_TIMEOUT, dags_folder=EXAMPLES
    )
    assert result.returncode == 0 and result.state == "success", result.tail()
    return result


def mapped_indexes(result: _harness.DagResult, task_id: str) -> list[int]:
    return sorted(t["map_index"] for t in result.tasks if t["task_id"] == task_id and t["state"] == "success")


# --- vlm_chained_extraction ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        ("INVOICE\nInvoice number: 42\nBill to ACME\nPayment due upon receipt", "document.invoice"),
        ("Corner Store\nRECEIPT\nCashier: Ann\nCard ending 4242\nChange due 0.00", "document.receipt"),
        ("Account statement\nOpening balance 10.00\nClosing balance 12.00", "document.bank-statement"),
        ("Minutes of the board meeting", None),
    ],
)
def test_routing_rules(text: str, domain: str | None) -> None:
    from vlm_chained_extraction import pick_domain

    assert pick_domain(text) == domain


@pytest.mark.timeout(150)
def test_chained_extraction_routes_a_sample_invoice(example_home: Path, dev: Any) -> None:
    result = run_example(example_home, dev, "vlm_chained_extraction")
    document = Path(result.xcom("pick_document"))
    manifest = json.loads((document.parent / "manifest.json").read_text())
    (expected,) = [entry for entry in manifest["invoices"] if entry["file"] == document.name]

    markdown = result.xcom("markdown")
    assert markdown["status"] == "completed" and markdown["domain"] == "document.markdown"
    assert expected["invoice_id"] in markdown["response"]["pages"][0]["content"]
    assert result.xcom("route") == "document.invoice"
    extracted = result.xcom("extract")
    assert extracted["status"] == "completed" and extracted["domain"] == "document.invoice"
    assert extracted["response"]["invoice_id"] == expected["invoice_id"]
    assert extracted["response"]["total_amount"] == pytest.approx(expected["total_amount"])
    assert dev.stats()["predictions_created"] == 2


# --- vlm_submit_then_sense -----------------------------------------------------------------------


@pytest.mark.timeout(150)
def test_submit_then_sense_collects_every_prediction(example_home: Path, dev: Any) -> None:
    result = run_example(example_home, dev, "vlm_submit_then_sense")
    files = result.xcom("list_documents")
    assert len(files) == 3
    assert mapped_indexes(result, "submit") == mapped_indexes(result, "wait") == [0, 1, 2]
    submitted = [result.xcom("submit", map_index=i)["id"] for i in range(3)]

    collected = result.xcom("collect")
    assert collected["count"] == 3 and collected["by_status"] == {"completed": 3}
    assert [r["id"] for r in collected["records"]] == submitted
    assert all(r["status"] == "completed" and r["response"]["invoice_id"] for r in collected["records"])
    stats = dev.stats()
    assert stats["predictions_created"] == len(files)
    assert sorted(stats["submissions"].values()) == [1] * len(files)


# --- vlm_mapped_documents ------------------------------------------------------------------------


@pytest.mark.timeout(150)
def test_mapped_documents_one_record_per_file(
    example_home: Path, dev: Any, invoice_set: InvoiceSet, tmp_path: Path
) -> None:
    picked = invoice_set.mapped
    source = tmp_path / "inbox"
    source.mkdir()
    for pdf in picked:
        shutil.copy(pdf, source / pdf.name)

    result = run_example(example_home, dev, "vlm_mapped_documents", {"source": str(source)})
    assert mapped_indexes(result, "extract") == [0, 1, 2]
    rows = result.xcom("summarize")
    assert sorted(Path(row["document"]).name for row in rows) == sorted(p.name for p in picked)
    assert all(row["status"] == "completed" and row["id"] for row in rows)
    assert len({row["id"] for row in rows}) == len(picked)
    assert dev.stats()["predictions_created"] == len(picked)


# --- vlm_taskflow_invoices -----------------------------------------------------------------------


@pytest.mark.timeout(150)
def test_taskflow_invoices_totals_from_responses(
    example_home: Path, dev: Any, invoice_set: InvoiceSet, tmp_path: Path
) -> None:
    invoices = invoice_set.einvoices[1:3]
    assert [i.currency for i in invoices] == ["GBP", "EUR"]
    picked = [i.path for i in invoices]
    source = tmp_path / "inbox"
    source.mkdir()
    for pdf in picked:
        shutil.copy(pdf, source / pdf.name)

    result = run_example(example_home, dev, "vlm_taskflow_invoices", {"source": str(source)})
    assert mapped_indexes(result, "extract") == [0, 1]
    records = [result.xcom("extract", map_index=i) for i in (0, 1)]
    expected: dict[str, float] = {}
    for record in records:
        currency = record["response"]["currency"]
        expected[currency] = round(expected.get(currency, 0.0) + float(record["response"]["total_amount"]), 2)
    assert result.xcom("totals") == expected == {i.currency: float(i.total_amount) for i in invoices}
    assert dev.stats()["predictions_created"] == len(picked)
