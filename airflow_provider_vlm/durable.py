"""The durable submission record: why a retry re-attaches instead of billing a second prediction.

The record lives in Airflow's ``task_state_store``, which survives deferral resumes and retries
(XCom does not: a retry clears it). It holds the input fingerprint, the ``dag_run.clear_number``
it was made in, a generation counter, the intent time and, once known, the prediction id.

The rules are pure functions of (record, fingerprint, clear number[, status]) so that the single
operator and the batch operator (one record per input) apply exactly the same ones:

- no record, a user's Clear (new clear number) or a changed fingerprint → submit, next generation;
- an intent without a prediction id (the answer to the submit was lost) → submit again with the
  same generation, hence the same ``Idempotency-Key``: a server that honours it hands back the
  orphan;
- a known prediction → look at its status: completed → return it; still waiting → re-attach;
  failed → submit, next generation.

A record that cannot be read is an error, never "no record": guessing "none" is how duplicates
get billed.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Protocol

from airflow_provider_vlm.client import PredictionStatus

#: ``task_state_store`` key of ``GenerateOperator``'s record. Renaming it breaks in-flight retries.
RECORD_KEY = "vlm_submission"
RECORD_VERSION = 1


class RecordError(RuntimeError):
    """The durable record could not be read or written; the task must not guess."""


class StateStore(Protocol):
    """What is used of ``context["task_state_store"]``."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any, *, retention: Any = None) -> None: ...


class Step(str, enum.Enum):
    SUBMIT = "submit"  # create a prediction under ``generation`` (a new Idempotency-Key)
    RESUBMIT = "resubmit"  # the last submit's answer was lost: same generation, same key
    CHECK = "check"  # a prediction is known: fetch its status, then call ``after_status``
    RETURN = "return"  # it completed: return it, submit nothing
    ATTACH = "attach"  # it is still waiting: wait for it again, submit nothing


@dataclass(frozen=True)
class Decision:
    step: Step
    generation: int
    reason: str
    prediction_id: str | None = None


@dataclass(frozen=True)
class SubmissionRecord:
    fingerprint: str
    clear_number: int
    generation: int
    intent_at: str
    prediction_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": RECORD_VERSION,
            "fingerprint": self.fingerprint,
            "clear_number": self.clear_number,
            "generation": self.generation,
            "intent_at": self.intent_at,
            "prediction_id": self.prediction_id,
        }

    @classmethod
    def from_json(cls, value: Any) -> SubmissionRecord:
        """Parse a stored record; anything unexpected raises ``RecordError``."""
        if not isinstance(value, Mapping):
            raise RecordError(f"stored submission record is not an object: {type(value).__name__}")
        try:
            record = cls(
                fingerprint=str(value["fingerprint"]),
                clear_number=int(value["clear_number"]),
                generation=int(value["generation"]),
                intent_at=str(value["intent_at"]),
                prediction_id=None if value.get("prediction_id") is None else str(value["prediction_id"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(f"stored submission record is malformed ({exc!r}): {dict(value)!r}") from None
        if record.generation < 1:
            raise RecordError(f"stored submission record has generation {record.generation} < 1")
        return record

    def with_prediction(self, prediction_id: str) -> SubmissionRecord:
        return replace(self, prediction_id=prediction_id)


def intent(
    fingerprint: str, clear_number: int, generation: int, now: datetime | None = None
) -> SubmissionRecord:
    """The record written *before* submitting, so a lost answer is still known to have been asked."""
    moment = (now or datetime.now(timezone.utc)).isoformat()
    return SubmissionRecord(fingerprint, clear_number, generation, moment)


def decide(record: SubmissionRecord | None, fingerprint: str, clear_number: int) -> Decision:
    """What to do before any API call, from the record alone."""
    if record is None:
        return Decision(Step.SUBMIT, 1, "no earlier submission")
    nxt = record.generation + 1
    if record.clear_number != clear_number:
        return Decision(
            Step.SUBMIT,
            nxt,
            f"the run was cleared (clear number {record.clear_number} -> {clear_number}): extracting again",
        )
    if record.fingerprint != fingerprint:
        return Decision(Step.SUBMIT, nxt, "the input or request changed since the last submission")
    if record.prediction_id is None:
        return Decision(
            Step.RESUBMIT,
            record.generation,
            "an earlier try submitted but its answer was lost; resubmitting with the same Idempotency-Key",
        )
    return Decision(
        Step.CHECK, record.generation, "an earlier try already submitted", prediction_id=record.prediction_id
    )


def after_status(record: SubmissionRecord, status: PredictionStatus) -> Decision:
    """What to do once the status of the recorded prediction is known."""
    pid = record.prediction_id
    if status.is_success:
        return Decision(Step.RETURN, record.generation, f"prediction {pid} already completed", pid)
    if status.is_terminal:
        return Decision(
            Step.SUBMIT, record.generation + 1, f"prediction {pid} failed earlier: submitting a fresh one"
        )
    return Decision(
        Step.ATTACH, record.generation, f"prediction {pid} is still {status.value}: re-attaching", pid
    )


class RecordStore:
    """Reads and writes one record under one key of ``task_state_store``; never swallows a failure."""

    def __init__(self, store: StateStore, key: str = RECORD_KEY) -> None:
        self.store = store
        self.key = key

    @classmethod
    def from_context(cls, context: Mapping[str, Any], key: str = RECORD_KEY) -> RecordStore:
        store = context.get("task_state_store")
        if store is None:
            raise RecordError(
                "task_state_store is not available in this context; it is needed to retry without "
                "duplicate predictions (Airflow >= 3.3)"
            )
        return cls(store, key)

    def load(self) -> SubmissionRecord | None:
        try:
            value = self.store.get(self.key, None)
        except Exception as exc:  # any failure to read must stop the task, not look like "no record"
            raise RecordError(f"cannot read the submission record {self.key!r}: {exc}") from exc
        return None if value is None else SubmissionRecord.from_json(value)

    def save(self, record: SubmissionRecord) -> None:
        from airflow.sdk.execution_time.context import NEVER_EXPIRE

        try:
            self.store.set(self.key, record.to_json(), retention=NEVER_EXPIRE)
        except Exception as exc:
            raise RecordError(f"cannot write the submission record {self.key!r}: {exc}") from exc
