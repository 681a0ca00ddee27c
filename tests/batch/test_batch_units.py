"""Parts of ``GenerateBatchOperator`` that need no Airflow run: arguments, state, output, policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from airflow_provider_vlm.client import PredictionStatus, VlmInputError
from airflow_provider_vlm.durable import RecordError, SubmissionRecord
from airflow_provider_vlm.operators._batch_output import InputResult, ResultWriter
from airflow_provider_vlm.operators._batch_state import CHUNK_BYTES, HEADER_KEY, BatchState, InputState
from airflow_provider_vlm.operators.batch import BatchFailedError, GenerateBatchOperator

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
        op(source=str(tmp_path / "nope")).resolve_inputs()


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
    assert set(kwargs) == {
        "prediction_ids",
        "vlm_conn_id",
        "deadline",
        "poll_interval",
        "max_poll_interval",
        "max_concurrency",
        "max_consecutive_errors",
    }
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
    task = op(max_failed_fraction=allowed)
    if fails:
        with pytest.raises(BatchFailedError, match="1 of 4 inputs failed") as info:
            task._apply_policy(summary)
        assert info.value.summary["failed_total"] == 1
    else:
        task._apply_policy(summary)


def test_errors_of_one_input_do_not_stop_the_batch() -> None:
    from airflow_provider_vlm.client import APIError, AuthenticationError, InvalidRequestError, RateLimitError
    from airflow_provider_vlm.client.errors import ConfigurationError
    from airflow_provider_vlm.operators.batch import _is_input_problem

    assert _is_input_problem(InvalidRequestError("bad pdf", status_code=422))
    assert _is_input_problem(APIError("too large", status_code=413))
    assert _is_input_problem(VlmInputError("file is empty"))
    assert not _is_input_problem(ConfigurationError("no API key"))
    assert not _is_input_problem(AuthenticationError("revoked", status_code=401))
    assert not _is_input_problem(RateLimitError("slow down", status_code=429, retry_after=1.0))
