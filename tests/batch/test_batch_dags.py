"""``GenerateBatchOperator`` end to end: ``dag.test()`` against the real dev server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.invoices import InvoiceSet

from .conftest import RunDag, make_documents, read_results

pytestmark = pytest.mark.timeout(170)


def assert_no_duplicates(stats: dict[str, Any], expected: int) -> None:
    submissions: dict[str, int] = stats["submissions"]
    assert len(submissions) == expected, f"{len(submissions)} keys for {expected} inputs"
    repeated = {k: n for k, n in submissions.items() if n != 1}
    assert not repeated, f"keys that created more than one prediction: {repeated}"
    assert stats["predictions_created"] == expected


def test_many_documents_one_task(run_dag: RunDag, dev: Any, tmp_path: Path) -> None:
    docs = make_documents(tmp_path / "in", 220)
    out = tmp_path / "out"
    dev.faults(processing_time=0.5)
    result = run_dag(
        "vlm_batch_many", env={"VLM_BATCH_SOURCE": str(docs[0].parent), "VLM_BATCH_OUTPUT": str(out)}
    )
    assert result.task("extract")["state"] == "success", result.tail()
    summary = result.xcom("extract")
    assert summary["total"] == 220 and summary["counts"] == {"completed": 220}
    assert summary["output"]["results"].endswith("results.jsonl")
    rows = read_results(out)
    assert [r["input"] for r in rows] == [str(p) for p in docs]
    assert all(r["status"] == "completed" and r["prediction_id"] and r["error"] is None for r in rows)
    assert_no_duplicates(dev.stats(), 220)
    assert dev.api_key not in (out / "results.jsonl").read_text() + (out / "summary.json").read_text()
    assert dev.api_key not in json.dumps(result.xcoms) + json.dumps(result.task_state)
    assert dev.api_key not in result.output
    chunks = [r for r in result.task_state if r["key"].startswith("vlm_batch.") and r["key"][10:].isdigit()]
    assert len(chunks) >= 2, "220 inputs span several state chunks"
    assert all(len(json.dumps(c["value"])) < 64_000 for c in chunks)


def test_the_resume_collects_what_was_listed_at_submit(run_dag: RunDag, dev: Any, tmp_path: Path) -> None:
    """A file that lands while the batch waits is neither collected nor reported: the resumed task
    reads the try's listing from its durable state instead of listing the folder again."""
    docs = make_documents(tmp_path / "in", 5)
    out = tmp_path / "out"
    dev.faults(processing_time=0.5)
    result = run_dag(
        "vlm_batch_late_file", env={"VLM_BATCH_SOURCE": str(docs[0].parent), "VLM_BATCH_OUTPUT": str(out)}
    )
    assert (docs[0].parent / "zz-late.txt").exists(), "the late file landed during the wait"
    assert result.task("extract")["state"] == "success", result.tail()
    assert result.xcom("extract")["counts"] == {"completed": 5}
    assert [r["input"] for r in read_results(out)] == [str(p) for p in docs]
    listed = [r for r in result.task_state if r["key"].startswith("vlm_batch.inputs")]
    assert [label for r in listed if r["key"] != "vlm_batch.inputs" for label in r["value"]] == [
        str(p) for p in docs
    ]


def test_crash_mid_batch_resumes_without_duplicates(run_dag: RunDag, dev: Any, tmp_path: Path) -> None:
    """The first try dies after 40 submits (the 41st.. raise): ids of the wave in flight are lost."""
    docs = make_documents(tmp_path / "in", 80)
    out = tmp_path / "out"
    dev.faults(processing_time=0.5)
    env = {
        "VLM_BATCH_SOURCE": str(docs[0].parent),
        "VLM_BATCH_OUTPUT": str(out),
        "VLM_BATCH_CRASH_AFTER": "40",
    }
    result = run_dag("vlm_batch_crash", env=env)
    task = result.task("extract")
    assert task["state"] == "success" and task["try_number"] == 2, result.tail()
    assert "simulated worker crash" in result.output
    assert "resubmitting with the same Idempotency-Key" in result.output  # the wave whose answers were lost
    assert result.xcom("extract")["counts"] == {"completed": 80}
    stats = dev.stats()
    assert_no_duplicates(stats, 80)
    assert stats["requests"]["POST /document/generate"] > 80  # the lost wave was sent twice, created once
    # Each input's bytes were uploaded once: new inputs skip the md5 lookup, the retry's resubmits
    # (the 32 inputs of the lost wave, recorded with an intent) find their files by md5.
    assert stats["requests"]["POST /files"] == 80
    assert stats["requests"]["GET /files/hash/{md5}"] == 32


def test_a_retry_reads_recorded_statuses_from_list_pages(run_dag: RunDag, dev: Any, tmp_path: Path) -> None:
    """The retry of a big batch reads what an earlier try recorded in one list sweep, not a GET each.

    The first try records 128 running predictions, then dies at its fifth wave; they have
    completed when the retry starts (0.5 s of processing, the retry waits 1 s). The retry keeps
    them and submits the other 72, whose wait (50 ids or more) reads list pages too: no
    prediction is ever read by id (before: a ``GET /predictions/{id}`` per recorded input).
    """
    docs = make_documents(tmp_path / "in", 200)
    dev.faults(processing_time=0.5)
    env = {
        "VLM_BATCH_SOURCE": str(docs[0].parent),
        "VLM_BATCH_OUTPUT": str(tmp_path / "out"),
        "VLM_BATCH_CRASH_AFTER": "128",
    }
    result = run_dag("vlm_batch_crash", env=env)
    task = result.task("extract")
    assert task["state"] == "success" and task["try_number"] == 2, result.tail()
    assert result.xcom("extract")["counts"] == {"completed": 200}
    stats = dev.stats()
    assert_no_duplicates(stats, 200)
    assert stats["requests"].get("GET /predictions/{id}", 0) == 0, stats["requests"]


def test_unknown_prediction_ids_fail_the_batch_at_once(run_dag: RunDag, dev: Any, tmp_path: Path) -> None:
    """404 on every status call: an unknown id will not appear by asking again, so no retry is spent."""
    docs = make_documents(tmp_path / "in", 20)
    dev.faults(
        processing_time=2.0,
        rules=[{"method": "GET", "path": "/predictions/*", "status": 404, "count": 10_000}],
    )
    env = {"VLM_BATCH_SOURCE": str(docs[0].parent), "VLM_BATCH_OUTPUT": str(tmp_path / "out")}
    result = run_dag("vlm_batch_many", env=env)
    task = result.task("extract")
    assert task["state"] == "failed" and task["try_number"] == 1, result.tail()  # retries=2 unused
    assert "NotFoundError" in result.output
    assert_no_duplicates(dev.stats(), 20)


def test_lost_submit_answers_are_settled_with_the_same_key(run_dag: RunDag, dev: Any, tmp_path: Path) -> None:
    """The server creates the prediction but the answer is lost: resubmitted once with the same key."""
    docs = make_documents(tmp_path / "in", 30)
    dev.faults(processing_time=0.5, drop_after_create=3)
    env = {"VLM_BATCH_SOURCE": str(docs[0].parent), "VLM_BATCH_OUTPUT": str(tmp_path / "out")}
    result = run_dag("vlm_batch_many", env=env)
    task = result.task("extract")
    assert task["state"] == "success" and task["try_number"] == 1, result.tail()
    assert "lost their answer" in result.output
    stats = dev.stats()
    assert stats["faults_injected"]["drop_after_create"] == 3
    assert stats["requests"]["POST /document/generate"] == 33
    assert_no_duplicates(stats, 30)


def test_clear_extracts_again(run_dag: RunDag, dev: Any, tmp_path: Path) -> None:
    """A user's Clear (new clear_number) submits every input afresh: new keys, one prediction each."""
    docs = make_documents(tmp_path / "in", 20)
    dev.faults(processing_time=0.3)
    env = {"VLM_BATCH_SOURCE": str(docs[0].parent), "VLM_BATCH_OUTPUT": str(tmp_path / "out")}
    result = run_dag("vlm_batch_many", env=env, clear_rerun=True)
    assert result.task("extract")["state"] == "success", result.tail()
    assert_no_duplicates(dev.stats(), 40)
    generations = {
        row["generation"] for c in result.task_state if c["key"] == "vlm_batch.0" for row in c["value"]
    }
    assert generations == {2}


@pytest.mark.parametrize("dag_id", ["vlm_batch_many", "vlm_batch_flaky_retry"])
def test_flaky_status_calls_all_complete(run_dag: RunDag, dev: Any, tmp_path: Path, dag_id: str) -> None:
    """20% 5xx and 10% 429 (Retry-After) on every GET, from the first submit on: all complete.

    Every GET may fail (status polls, the retry's md5 look-ups and look-ups of recorded
    predictions, result fetches). Each read has the DAG's budget (``max_retries=8``: about 2e-5
    of reads outlast it); the wait rides failed polls out, and a read past its budget fails the
    try, whose retry re-attaches: so one extra try is allowed, a duplicate never. 45 inputs stay under the
    trigger's list-sweep threshold (50), so every poll round is one GET per id. ``vlm_batch_flaky_retry``
    crashes its first try after 30 creates, so the second try's look-ups run under the same
    faults (where a ``RateLimitError`` once escaped and failed the batch).
    """
    docs = make_documents(tmp_path / "in", 45)
    dev.faults(processing_time=1.0, error_rate=0.2, rate_limit_rate=0.1, retry_after=0.2, methods=["GET"])
    env = {
        "VLM_BATCH_SOURCE": str(docs[0].parent),
        "VLM_BATCH_OUTPUT": str(tmp_path / "out"),
        "VLM_BATCH_CRASH_AFTER": "30",
    }
    result = run_dag(dag_id, env=env)
    task = result.task("extract")
    assert task["state"] == "success", result.tail()
    first = 2 if dag_id == "vlm_batch_flaky_retry" else 1
    assert first <= task["try_number"] <= first + 1, result.tail()
    assert result.xcom("extract")["counts"] == {"completed": 45}
    stats = dev.stats()
    assert stats["faults_injected"]["error"] > 0 and stats["faults_injected"]["rate_limit"] > 0, stats
    assert_no_duplicates(stats, 45)


def test_the_soak_fault_mix_on_every_call_completes_without_duplicates(
    run_dag: RunDag, dev: Any, tmp_path: Path
) -> None:
    """20% 5xx, 10% 429 and 5% dropped connections on every call, uploads and creates included.

    An input whose create answer is lost does not end the try for the others: it gets more rounds
    after the last wave, resent with the same ``Idempotency-Key``, within its retry budget
    (``max_retries=8`` here). A call that outlasts its budget (about 1e-4 of them at this fault
    rate) fails the try after the others are recorded, and the retry submits only what is left.
    """
    docs = make_documents(tmp_path / "in", 60)
    dev.faults(
        processing_time=1.0,
        error_rate=0.2,
        rate_limit_rate=0.1,
        retry_after=0.2,
        drop_rate=0.05,
        methods=["GET", "POST"],
    )
    env = {"VLM_BATCH_SOURCE": str(docs[0].parent), "VLM_BATCH_OUTPUT": str(tmp_path / "out")}
    result = run_dag("vlm_batch_chaos", env=env)
    task = result.task("extract")
    assert task["state"] == "success", result.tail()
    assert task["try_number"] <= 2, result.tail()  # settled within the budget, rarely by a retry
    # 20% of 60 creates answer 5xx (an unknown outcome, never retried blindly): P(none) < 2e-6
    assert "met transient errors" in result.output
    assert result.xcom("extract")["counts"] == {"completed": 60}
    stats = dev.stats()
    assert stats["faults_injected"]["error"] > 0 and stats["faults_injected"]["drop"] > 0
    assert_no_duplicates(stats, 60)


def test_listed_inputs_blocking_wait_results_in_xcom(run_dag: RunDag, dev: Any, tmp_path: Path) -> None:
    """inputs from an upstream task's XCom, waited on the worker, no output_path: results in XCom."""
    docs = make_documents(tmp_path / "in", 12)
    dev.faults(processing_time=0.5)
    result = run_dag("vlm_batch_listed", env={"VLM_BATCH_SOURCE": str(docs[0].parent)})
    assert result.task("extract")["state"] == "success", result.tail()
    summary = result.xcom("extract")
    assert summary["output"] is None and summary["counts"] == {"completed": 12}
    assert [r["input"] for r in summary["results"]] == [str(p) for p in docs]
    assert all(r["response"] is not None for r in summary["results"])
    assert result.task("list_documents")["state"] == "success"


def test_response_model_failures_are_reported_per_input(run_dag: RunDag, dev: Any, tmp_path: Path) -> None:
    """Responses that fail ``response_model`` validation are failed inputs naming the field path."""
    docs = make_documents(tmp_path / "in", 5)
    out = tmp_path / "out"
    # The dev server shapes results to the schema; force a total that breaks the model's gt=0.
    dev.faults(processing_time=0.3, responses={"document.receipt": {"total": 0}})
    result = run_dag(
        "vlm_batch_validated", env={"VLM_BATCH_SOURCE": str(docs[0].parent), "VLM_BATCH_OUTPUT": str(out)}
    )
    assert result.task("extract")["state"] == "success", result.tail()  # max_failed_fraction=1.0
    assert result.xcom("extract")["counts"] == {"failed": 5}
    rows = read_results(out)
    assert all(r["prediction_id"] and "StrictTotal at $.total" in r["error"] for r in rows), rows[0]


def test_invoices_with_broken_ones(
    run_dag: RunDag, dev: Any, tmp_path: Path, invoice_set: InvoiceSet
) -> None:
    good = invoice_set.good  # e-invoices (CII, UBL) and text-only PDFs
    broken = [invoice_set.broken_xml, invoice_set.truncated]
    not_pdf, empty = invoice_set.not_pdf, invoice_set.empty
    missing = tmp_path / "missing.pdf"
    inputs = [str(p) for p in [*(i.path for i in good), *broken, not_pdf, empty, missing]]
    out = tmp_path / "out"
    dev.faults(processing_time=0.3)
    result = run_dag(
        "vlm_batch_invoices", env={"VLM_BATCH_INPUTS": json.dumps(inputs), "VLM_BATCH_OUTPUT": str(out)}
    )

    # max_failed_fraction=0 (default): the task fails, yet every result and the summary are written
    assert result.task("strict")["state"] == "failed", result.tail()
    assert "BatchFailedError" in result.output and "max_failed_fraction" in result.output
    assert dev.api_key not in result.output  # task logs and exception texts
    # max_failed_fraction=0.5: the same outcome is tolerated
    assert result.task("tolerant")["state"] == "success", result.tail()
    summary = result.xcom("tolerant")
    bad = {str(p) for p in [*broken, not_pdf, empty, missing]}
    assert summary["total"] == len(inputs)
    assert summary["counts"] == {"completed": len(inputs) - len(bad), "failed": len(bad) - 2, "invalid": 2}
    assert {f["input"] for f in summary["failed_inputs"]} == bad
    for folder in (out / "strict", out / "tolerant"):
        rows = {r["input"]: r for r in read_results(folder)}
        assert set(rows) == set(inputs)
        assert rows[str(missing)]["status"] == "invalid" and "not found" in rows[str(missing)]["error"]
        assert rows[str(empty)]["status"] == "invalid" and "empty" in rows[str(empty)]["error"]
        assert rows[str(not_pdf)]["status"] == "failed" and rows[str(not_pdf)]["prediction_id"]
        assert "the embedded invoice XML is broken" in rows[str(invoice_set.broken_xml)]["error"]
        assert "the PDF cannot be read" in rows[str(invoice_set.truncated)]["error"]
        for invoice in good:
            row = rows[str(invoice.path)]
            assert row["status"] == "completed", row
            assert row["response"]["invoice_id"] == invoice.invoice_id
            assert row["response"]["total_amount"] == float(invoice.total_amount)
        assert json.loads((folder / "summary.json").read_text())["failed_total"] == len(bad)
