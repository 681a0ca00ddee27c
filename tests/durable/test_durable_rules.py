"""The decision rules of the durable record, as pure functions (shared with the batch operator)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airflow_provider_vlm.client import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PredictionStatus,
    RateLimitError,
    ServerError,
    TransportError,
)
from airflow_provider_vlm.durable import (
    RecordError,
    RecordStore,
    Step,
    SubmissionRecord,
    after_status,
    check_recorded,
    decide,
    intent,
    submit_once,
)

FP = "f" * 64


def _record(**changes: Any) -> SubmissionRecord:
    base = {"fingerprint": FP, "clear_number": 0, "generation": 1, "intent_at": "t", "prediction_id": "p1"}
    return SubmissionRecord(**{**base, **changes})


def test_no_record_submits_generation_one() -> None:
    decision = decide(None, FP, 0)
    assert (decision.step, decision.generation) == (Step.SUBMIT, 1)


def test_known_prediction_is_checked_first() -> None:
    decision = decide(_record(), FP, 0)
    assert (decision.step, decision.generation, decision.prediction_id) == (Step.CHECK, 1, "p1")


@pytest.mark.parametrize(
    ("status", "step", "generation"),
    [
        (PredictionStatus.COMPLETED, Step.RETURN, 1),
        (PredictionStatus.FAILED, Step.SUBMIT, 2),
        (PredictionStatus.ENQUEUED, Step.ATTACH, 1),
        (PredictionStatus.PENDING, Step.ATTACH, 1),
        (PredictionStatus.RUNNING, Step.ATTACH, 1),
        (PredictionStatus.PAUSED, Step.ATTACH, 1),
    ],
)
def test_after_status(status: PredictionStatus, step: Step, generation: int) -> None:
    decision = after_status(_record(), status)
    assert (decision.step, decision.generation) == (step, generation)


def test_lost_answer_resubmits_with_the_same_generation() -> None:
    decision = decide(_record(prediction_id=None, generation=3), FP, 0)
    assert (decision.step, decision.generation) == (Step.RESUBMIT, 3)


def test_changed_fingerprint_submits_fresh() -> None:
    decision = decide(_record(generation=2), "0" * 64, 0)
    assert (decision.step, decision.generation) == (Step.SUBMIT, 3)


def test_clear_submits_fresh_even_if_completed_or_lost() -> None:
    assert decide(_record(), FP, 1).step is Step.SUBMIT
    assert decide(_record(prediction_id=None), FP, 1).generation == 2


def test_record_round_trips_as_json() -> None:
    record = intent(FP, 4, 2).with_prediction("abc")
    assert SubmissionRecord.from_json(record.to_json()) == record


@pytest.mark.parametrize(
    "stored", ["text", [1], {"fingerprint": FP}, {**_record().to_json(), "generation": 0}]
)
def test_malformed_record_is_an_error(stored: Any) -> None:
    with pytest.raises(RecordError):
        SubmissionRecord.from_json(stored)


class _Store:
    def __init__(self, fail: bool = False) -> None:
        self.data: dict[str, Any] = {}
        self.fail = fail

    def get(self, key: str, default: Any = None) -> Any:
        if self.fail:
            raise ConnectionError("api server unreachable")
        return self.data.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.data[key] = value


def test_failed_read_is_an_error_never_no_record() -> None:
    with pytest.raises(RecordError, match="cannot read"):
        RecordStore(_Store(fail=True)).load()


def test_store_saves_and_loads() -> None:
    store = RecordStore(_Store(), key="k")
    assert store.load() is None
    store.save(intent(FP, 0, 1))
    loaded = store.load()
    assert loaded is not None and loaded.generation == 1 and loaded.prediction_id is None


def test_missing_task_state_store_is_an_error() -> None:
    with pytest.raises(RecordError, match="task_state_store"):
        RecordStore.from_context({})


# --- check_recorded: the one "look at the recorded prediction, then decide" ------------------------


def _raise(error: Exception) -> Any:
    def status_of(prediction_id: str) -> PredictionStatus:
        raise error

    return status_of


@pytest.mark.parametrize(
    "error",
    [
        RateLimitError("slow down", status_code=429, retry_after=0.2),
        ServerError("boom", status_code=503),
        TransportError("ConnectError: refused"),
    ],
)
def test_an_unreadable_status_reattaches_and_the_wait_settles_it(error: Exception) -> None:
    decision = check_recorded(_record(), FP, 0, _raise(error))
    assert (decision.step, decision.prediction_id, decision.status_unread) == (Step.ATTACH, "p1", True)
    assert decision.generation == 1  # nothing new is submitted


@pytest.mark.parametrize(
    "error",
    [NotFoundError("no such prediction", status_code=404), AuthenticationError("revoked", status_code=401)],
)
def test_an_unknown_id_or_a_rejected_key_is_raised(error: Exception) -> None:
    with pytest.raises(type(error)):
        check_recorded(_record(), FP, 0, _raise(error))


def test_check_recorded_asks_only_when_a_prediction_is_known() -> None:
    asked: list[str] = []

    def status_of(prediction_id: str) -> PredictionStatus:
        asked.append(prediction_id)
        return PredictionStatus.FAILED

    assert check_recorded(None, FP, 0, status_of).step is Step.SUBMIT
    assert check_recorded(_record(prediction_id=None), FP, 0, status_of).step is Step.RESUBMIT
    assert asked == []
    decision = check_recorded(_record(), FP, 0, status_of)
    assert (decision.step, decision.generation, asked) == (Step.SUBMIT, 2, ["p1"])


# --- submit_once: the intent is written after the upload, just before the create -----------------


class _Ti:
    dag_id, task_id, run_id, map_index = "d", "t", "r", -1


def _context(store: _Store) -> dict[str, Any]:
    return {"task_state_store": store, "ti": _Ti(), "dag_run": type("Run", (), {"clear_number": 0})()}


def test_a_failed_upload_leaves_no_intent_so_the_next_try_warns_of_nothing() -> None:
    store = _Store()
    log = logging.getLogger("test")

    def refused() -> dict[str, Any]:
        raise InvalidRequestError("file is too large", status_code=413)

    def create(source: dict[str, Any], key: str) -> Any:  # pragma: no cover - never reached
        raise AssertionError("create must not run after a failed upload")

    with pytest.raises(InvalidRequestError):
        submit_once(_context(store), None, FP, prepare=refused, create=create, log=log)  # type: ignore[arg-type]
    assert store.data == {}
    assert decide(RecordStore(store).load(), FP, 0).step is Step.SUBMIT  # not RESUBMIT ("answer lost")


def test_the_intent_is_durable_before_the_create_call() -> None:
    store = _Store()
    seen: list[Any] = []

    def create(source: dict[str, Any], key: str) -> Any:
        seen.append((source, key, dict(store.data)))
        return type("P", (), {"id": "p9", "status": PredictionStatus.ENQUEUED})()

    submitted = submit_once(
        _context(store),
        None,
        FP,
        prepare=lambda: {"file_id": "f1"},
        create=create,
        log=logging.getLogger("t"),  # type: ignore[arg-type]
    )
    (source, key, before) = seen[0]
    assert source == {"file_id": "f1"} and len(key) == 64
    assert before["vlm_submission"]["prediction_id"] is None  # the intent, written before the call
    assert store.data["vlm_submission"]["prediction_id"] == "p9" == submitted.prediction_id
