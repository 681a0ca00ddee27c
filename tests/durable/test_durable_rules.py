"""The decision rules of the durable record, as pure functions (shared with the batch operator)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_vlm.client import PredictionStatus
from airflow_provider_vlm.durable import (
    RecordError,
    RecordStore,
    Step,
    SubmissionRecord,
    after_status,
    decide,
    intent,
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
