"""Parts of ``GenerateBatchOperator`` that need no Airflow run: arguments, state, output, policy."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from airflow_provider_vlm.client import AuthenticationError, PredictionStatus, VlmClient, VlmInputError
from airflow_provider_vlm.client.errors import TaskRetry
from airflow_provider_vlm.durable import RecordError, SubmissionRecord
from airflow_provider_vlm.operators._batch_collect import apply_failure_policy
from airflow_provider_vlm.operators._batch_output import InputResult, ResultWriter
from airflow_provider_vlm.operators._batch_state import (
    HEADER_KEY,
    INPUTS_KEY,
    INVALID_KEY,
    BatchState,
    InputState,
)
from airflow_provider_vlm.operators._batch_submit import BatchSubmitter
from airflow_provider_vlm.operators._submission import Submission
from airflow_provider_vlm.operators.batch import (
    BatchFailedError,
    BatchInputsRefusedError,
    GenerateBatchOperator,
)
from airflow_provider_vlm.state_store import CHUNK_BYTES

from .conftest import make_documents


class MemoryStore:
    """Stands in for ``context["task_state_store"]``; counts writes per key."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.writes: dict[str, int] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.values[key] = json.dumps(value)
        self.writes[key] = self.writes.get(key, 0) + 1


class BrokenStore(MemoryStore):
    def get(self, key: str, default: Any = None) -> Any:
        raise ConnectionError("api server unreachable")


def op(**kwargs: Any) -> GenerateBatchOperator:
    kwargs.setdefault("task_id", "batch")
    kwargs.setdefault("domain", "document.invoice")
    if "source" not in kwargs:
        kwargs.setdefault("inputs", ["a.pdf"])
    return GenerateBatchOperator(**kwargs)


# --- arguments, checked at parse time ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"inputs": None}, "exactly one of inputs or source"),
        ({"inputs": ["a.pdf"], "source": "/data"}, "exactly one of inputs or source"),
        ({"inputs": ["a.pdf"], "pattern": "*.pdf"}, "pattern applies to source"),
        ({"inputs": []}, "inputs is empty"),
        ({"media": "pdf"}, "media='pdf' is unknown"),
        ({"domain": "invoice"}, "domain"),
        ({"max_failed_fraction": 1.5}, "max_failed_fraction"),
        ({"max_active_submissions": 0}, "max_active_submissions"),
        ({"autocast": True, "response_model": BaseModel}, "autocast=True or response_model"),
    ],
)
def test_bad_arguments_fail_at_parse_time(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(VlmInputError, match=message):
        op(**kwargs)


def test_templated_fields_cover_the_inputs() -> None:
    fields = set(GenerateBatchOperator.template_fields)
    assert {"inputs", "source", "pattern", "output_path", "domain", "config", "metadata"} <= fields


def test_inputs_from_a_folder_and_pattern(tmp_path: Path) -> None:
    docs = make_documents(tmp_path, 3, ".pdf")
    (tmp_path / "skip.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    assert [label for label, _ in op(source=str(tmp_path), pattern="*.pdf").resolve_inputs()] == [
        str(p) for p in docs
    ]
    with pytest.raises(VlmInputError, match="not a folder"):
        op(source=str(docs[0])).resolve_inputs()
    # A folder that does not exist lists nothing (min_inputs judges it; see test_min_inputs.py).
    assert op(source=str(tmp_path / "nope")).resolve_inputs() == []


def test_inputs_as_list_rendered_string_and_duplicates() -> None:
    assert [label for label, _ in op(inputs="['a.pdf', 'b.pdf', 'a.pdf']").resolve_inputs()] == [
        "a.pdf",
        "b.pdf",
    ]
    with pytest.raises(VlmInputError, match="inputs must be a list"):
        op(inputs="a.pdf").resolve_inputs()
    with pytest.raises(VlmInputError, match="paths, URIs or URLs"):
        op(inputs=["a.pdf", 3]).resolve_inputs()


def test_trigger_kwargs_hold_ids_and_timings_only() -> None:
    _, kwargs = op(timeout=60).trigger_for(["p1", "p2"]).serialize()
    core = {
        "prediction_ids",
        "vlm_conn_id",
        "deadline",
        "poll_interval",
        "max_poll_interval",
        "max_concurrency",
    }
    assert (
        core
        <= set(kwargs)
        <= core | {"max_consecutive_errors", "unreachable_timeout", "waiting_since", "fire_after"}
    )
    assert kwargs["prediction_ids"] == ["p1", "p2"] and kwargs["deadline"] is not None


# --- durable state ---------------------------------------------------------------------------------


def entry(pid: str | None = "pred-1", status: PredictionStatus | None = None, gen: int = 1) -> InputState:
    return InputState(SubmissionRecord("f" * 64, 0, gen, "2026-01-01T00:00:00+00:00", pid), status)


def test_state_round_trips_in_chunks_under_the_size_limit() -> None:
    store = MemoryStore()
    state = BatchState.load(store)
    labels = [f"s3://bucket/invoices/2026/01/01/{i:05d}-a-fairly-long-file-name.pdf" for i in range(1500)]
    state.put_many((label, entry(f"pred-{i}")) for i, label in enumerate(labels))
    state.flush()
    assert state.chunk_count > 1
    assert all(len(v) < CHUNK_BYTES + 1000 for k, v in store.values.items())
    again = BatchState.load(store)
    assert list(again.entries) == labels
    assert again.entries[labels[7]] == entry("pred-7")


def test_state_writes_only_the_chunks_that_changed() -> None:
    store = MemoryStore()
    state = BatchState.load(store)
    labels = [f"/data/{'x' * 150}-{i}.pdf" for i in range(1000)]
    state.put_many((label, entry()) for label in labels)
    state.flush()
    before = dict(store.writes)
    state.put(labels[-1], entry(status=PredictionStatus.COMPLETED))
    state.flush()
    changed = {k for k in store.writes if store.writes[k] != before.get(k)}
    assert changed == {f"{HEADER_KEY}.{state.chunk_count - 1}"}


def test_a_state_that_cannot_be_read_is_an_error_never_empty() -> None:
    with pytest.raises(RecordError, match="cannot read"):
        BatchState.load(BrokenStore())
    store = MemoryStore()
    store.set(HEADER_KEY, {"version": 1, "chunks": 2})
    store.set(f"{HEADER_KEY}.0", [])
    with pytest.raises(RecordError, match="missing"):
        BatchState.load(store)
    store.set(f"{HEADER_KEY}.1", [["a.pdf", "f", 0]])
    with pytest.raises(RecordError, match="malformed"):
        BatchState.load(store)


def test_rows_are_the_records_own_json() -> None:
    store = MemoryStore()
    state = BatchState.load(store)
    state.put("a.pdf", entry("pred-1", PredictionStatus.COMPLETED))
    state.flush()
    (row,) = store.get(f"{HEADER_KEY}.0")
    assert row == {"input": "a.pdf", **entry("pred-1").record.to_json(), "status": "completed"}


def test_rows_written_positionally_by_an_earlier_version_still_load() -> None:
    store = MemoryStore()
    store.set(HEADER_KEY, {"version": 1, "chunks": 1})
    store.set(f"{HEADER_KEY}.0", [["a.pdf", "f" * 64, 0, 2, "2026-01-01T00:00:00+00:00", "pred-9", "failed"]])
    state = BatchState.load(store)
    assert state.entries["a.pdf"] == entry("pred-9", PredictionStatus.FAILED, gen=2)


def test_every_value_stays_under_the_store_limit_even_300_invalid_inputs() -> None:
    """300 missing inputs once wrote 146,400 bytes as one value (the store's limit is 65,535)."""
    store = MemoryStore()
    state = BatchState.load(store)
    reason = "x" * 299  # reasons are cut at 300 characters
    invalid = {f"s3://bucket/2026/{'deep/' * 20}{i:05d}.pdf": reason for i in range(300)}
    state.save_invalid(invalid)
    assert max(len(v.encode()) for v in store.values.values()) < 65_535
    assert len([k for k in store.values if k.startswith(INVALID_KEY + ".")]) > 1
    assert BatchState.load(store).load_invalid() == invalid
    state.save_invalid({})  # a later try with no invalid input replaces the list
    assert BatchState.load(store).load_invalid() == {}
    store.set(INVALID_KEY, {"a.pdf": "file not found"})  # as an earlier version wrote it
    assert BatchState.load(store).load_invalid() == {"a.pdf": "file not found"}


def test_the_listing_of_a_try_round_trips_in_order_and_in_chunks() -> None:
    store = MemoryStore()
    state = BatchState.load(store)
    assert state.load_inputs() is None  # nothing stored: state written before listings were kept
    labels = [f"s3://bucket/2026/{'deep/' * 20}{i:05d}.pdf" for i in range(2000, 0, -1)]
    state.save_inputs(labels)
    assert max(len(v.encode()) for v in store.values.values()) < 65_535
    assert len([k for k in store.values if k.startswith(INPUTS_KEY + ".")]) > 1
    assert BatchState.load(store).load_inputs() == labels  # the order given, not sorted
    state.save_inputs([])  # a retry that lists nothing replaces the listing
    assert BatchState.load(store).load_inputs() == []


def test_status_only_terminal_is_remembered() -> None:
    assert entry().with_status(PredictionStatus.RUNNING).status is None
    assert entry().with_status(PredictionStatus.FAILED).status is PredictionStatus.FAILED


# --- output and the failure policy ---------------------------------------------------------------


def result(i: int, status: str = "completed") -> InputResult:
    return InputResult(f"doc-{i}.pdf", status, f"pred-{i}", {"n": i}, {"credits_used": 1.0}, None)


def test_results_go_to_xcom_only_below_the_stated_size() -> None:
    with ResultWriter(None, max_xcom_bytes=10_000) as small:
        for i in range(10):
            small.add(result(i))
    assert len(small.summary()["results"]) == 10
    with ResultWriter(None, max_xcom_bytes=1_000) as big:
        for i in range(100):
            big.add(result(i))
    summary = big.summary()
    assert summary["results"] is None and "set output_path" in summary["results_note"]
    assert summary["counts"] == {"completed": 100} and summary["credits_used"] == 100.0


def test_output_files_and_summary(tmp_path: Path) -> None:
    with ResultWriter(tmp_path / "out") as writer:
        writer.add(result(1))
        writer.add(result(2, "failed"))
        summary = writer.summary()
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["input"] for line in lines] == ["doc-1.pdf", "doc-2.pdf"]
    assert set(json.loads(lines[0])) == {"input", "prediction_id", "status", "response", "usage", "error"}
    assert json.loads((tmp_path / "out" / "summary.json").read_text()) == summary
    assert summary["failed_inputs"][0]["input"] == "doc-2.pdf" and "results" not in summary


@pytest.mark.parametrize(("allowed", "fails"), [(0.0, True), (0.2, True), (0.25, False), (1.0, False)])
def test_failure_policy(allowed: float, fails: bool) -> None:
    with ResultWriter(None) as writer:
        for i in range(4):
            writer.add(result(i, "failed" if i == 0 else "completed"))
    summary = writer.summary()
    log = logging.getLogger("test")
    if fails:
        with pytest.raises(BatchFailedError, match="1 of 4 inputs failed") as info:
            apply_failure_policy(summary, allowed, log)
        assert info.value.summary["failed_total"] == 1
    else:
        apply_failure_policy(summary, allowed, log)


def test_a_try_whose_every_failure_is_a_refused_input_spends_no_retry() -> None:
    with ResultWriter(None) as writer:
        writer.add(result(0))
        writer.add(InputResult("empty.pdf", "invalid", error="file is empty: empty.pdf"))
    refused = writer.summary()
    with pytest.raises(BatchInputsRefusedError, match="a retry would not change it") as info:
        apply_failure_policy(refused, 0.0, logging.getLogger("test"))
    assert info.value.task_retry is TaskRetry.FAIL
    with ResultWriter(None) as writer:
        writer.add(result(0, "failed"))
        writer.add(InputResult("empty.pdf", "invalid", error="file is empty: empty.pdf"))
    mixed = writer.summary()
    with pytest.raises(BatchFailedError) as info:
        apply_failure_policy(mixed, 0.0, logging.getLogger("test"))
    assert type(info.value) is BatchFailedError  # a failed prediction may succeed when resubmitted


def test_errors_of_one_input_do_not_stop_the_batch(dev: Any, tmp_path: Path) -> None:
    """The submit step against the dev server: an input refused for what it is (by the server or
    locally) is reported and the others go on; a retry of the same clear does not send it again, a
    Clear does; an error that is not the input's (a rejected key) stops the batch."""
    docs = make_documents(tmp_path, 3)
    empty, missing = tmp_path / "empty.txt", tmp_path / "missing.txt"
    empty.write_bytes(b"")
    items = [(str(p), p) for p in (docs[0], empty, docs[1], docs[2], missing)]
    store = MemoryStore()

    def submitter(client: VlmClient, clear: int) -> BatchSubmitter:
        return BatchSubmitter(
            submission=Submission(media="document", domain="document.receipt"),
            client=client,
            state=BatchState.load(store),
            identity="batch-test",
            clear=clear,
            media="document",
            max_active_submissions=1,  # inputs in order: the first upload meets the refusal
            log=logging.getLogger("test"),
        )

    def uploads() -> int:
        return int(dev.stats()["requests"].get("POST /files", 0))

    with VlmClient(dev.api_key, dev.base_url, max_retries=0) as client:
        dev.faults(rules=[{"method": "POST", "path": "/files", "status": 415, "count": 1}])
        first = submitter(client, clear=0)
        waiting = first.run(items)
        assert len(waiting) == 2 and first.counts["submitted"] == 2
        assert set(first.invalid) == {str(docs[0]), str(empty), str(missing)}
        assert "(HTTP 415)" in first.invalid[str(docs[0])] and "empty" in first.invalid[str(empty)]
        sent = uploads()

        retry = submitter(client, clear=0)
        assert sorted(retry.run(items)) == sorted(waiting)
        assert uploads() == sent  # the refused input is not sent again, nothing else is submitted
        assert retry.counts["attached"] == 2 and retry.counts["submitted"] == 0
        assert retry.invalid == first.invalid
        assert BatchState.load(store).load_invalid() == first.invalid

        cleared = submitter(client, clear=1)  # a Clear: "extract again", the refused one included
        cleared.run(items)
        assert str(docs[0]) not in cleared.invalid and cleared.counts["submitted"] == 3

        dev.faults(rules=[{"method": "POST", "path": "/document/generate", "status": 401}])
        with pytest.raises(AuthenticationError):
            submitter(client, clear=2).run(items)
