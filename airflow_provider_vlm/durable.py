"""The durable submission record: why a retry re-attaches instead of billing a second prediction.

The record lives in Airflow's ``task_state_store``, which survives deferral resumes and retries
(XCom does not: a retry clears it); below Airflow 3.3 in Variables (``state_store.for_task``). It holds the input fingerprint, the ``dag_run.clear_number``
it was made in, a generation counter, the intent time and, once known, the prediction id.

The rules are pure functions of (record, fingerprint, clear number[, status]) so that the single
operator and the batch operator (one record per input) apply exactly the same ones:

- no record, a user's Clear (new clear number) or a changed fingerprint → submit, next generation;
- an intent without a prediction id (the answer to the submit was lost) → submit again with the
  same generation, hence the same ``Idempotency-Key``: a server that honours it hands back the
  orphan;
- a known prediction → look at its status: completed → return it; still waiting → re-attach;
  failed → submit, next generation; status unreadable for now (5xx, 429, no reply) → re-attach
  and let the wait settle it (``check_recorded``).

``submit_once`` applies them for one record; the batch operator calls ``check_recorded`` per
input. The intent is written after the input is uploaded and just before the create call, so a
try that fails while uploading leaves no intent behind and the next try does not warn about a
lost answer that never existed.

A record that cannot be read is an error, never "no record": guessing "none" is how duplicates
get billed. Values written to ``task_state_store`` stay under its value size limit: large ones go
through ``state_store.ChunkedList``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_vlm.client import Prediction, PredictionStatus, VlmClient, VlmError
from airflow_provider_vlm.identity import idempotency_key, identity_key
from airflow_provider_vlm.state_store import RecordError, StateStore, for_task, read_value, write_value

if TYPE_CHECKING:
    from airflow.sdk import Context

T = TypeVar("T")

#: ``task_state_store`` key of ``GenerateOperator``'s record. Renaming it breaks in-flight retries.
RECORD_KEY = "vlm_submission"
RECORD_VERSION = 1


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
    #: Re-attached because the recorded prediction's status could not be read (transient error).
    status_unread: bool = False


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

    @property
    def lost_answer(self) -> bool:
        """An intent without a prediction id: the create call was made and its answer lost."""
        return self.prediction_id is None


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


def check_recorded(
    record: SubmissionRecord | None,
    fingerprint: str,
    clear_number: int,
    status_of: Callable[[str], PredictionStatus],
) -> Decision:
    """The one "check the recorded prediction, then decide" (``GenerateOperator`` and the batch).

    ``status_of`` reads a prediction's status (from the server, or from what a batch already
    knows). A status that cannot be read right now (a transient error: 5xx, 429, no reply)
    re-attaches: the wait that follows rides such errors out and settles the prediction, where a
    look-up here would fail the whole try. Any other error (unknown id, rejected key) is raised.
    """
    decision = decide(record, fingerprint, clear_number)
    if decision.step is not Step.CHECK:
        return decision
    assert record is not None and record.prediction_id is not None
    try:
        status = status_of(record.prediction_id)
    except VlmError as exc:
        if not exc.transient:
            raise
        return Decision(
            Step.ATTACH,
            record.generation,
            f"the status of prediction {record.prediction_id} cannot be read now ({exc}): re-attaching; "
            "the wait settles it",
            record.prediction_id,
            status_unread=True,
        )
    return after_status(record, status)


@dataclass(frozen=True)
class Submitted:
    """What ``submit_once`` found or created: the id always, the prediction when it was read."""

    prediction_id: str
    prediction: Prediction | None
    decision: Decision


def task_identity(context: Context) -> str:
    ti = context["ti"]
    return identity_key(ti.dag_id, ti.task_id, ti.run_id, ti.map_index)


def clear_number(context: Context) -> int:
    return int(getattr(context["dag_run"], "clear_number", 0) or 0)


def submit_once(
    context: Context,
    client: VlmClient,
    fingerprint: str,
    *,
    prepare: Callable[[], T],
    create: Callable[[T, str], Prediction],
    log: Any,
    record_key: str = RECORD_KEY,
) -> Submitted:
    """Apply the record's rules for one task: return or re-attach to a known prediction, or submit one.

    ``prepare`` readies the input (uploads it) and may fail without leaving a trace; then the
    intent is written, then ``create`` makes the prediction under the ``Idempotency-Key`` it is
    given, then the prediction id is written. A lost answer is thus settled by the next try with
    the same key, and a failed upload is never mistaken for one.
    """
    store = RecordStore.from_context(context, record_key, starting=True)
    record = store.load()
    current_clear = clear_number(context)
    seen: dict[str, Prediction] = {}

    def status_of(prediction_id: str) -> PredictionStatus:
        seen[prediction_id] = client.predictions.get(prediction_id)
        return seen[prediction_id].status

    decision = check_recorded(record, fingerprint, current_clear, status_of)
    if decision.step in (Step.RETURN, Step.ATTACH):
        assert decision.prediction_id is not None
        log.info("%s", decision.reason)
        return Submitted(decision.prediction_id, seen.get(decision.prediction_id), decision)
    prepared = prepare()
    if decision.step is Step.RESUBMIT:
        log.warning(
            "%s. A server that honours Idempotency-Key hands back the same prediction; one that "
            "does not may have billed a duplicate.",
            decision.reason,
        )
    else:
        log.info("submitting (generation %d): %s", decision.generation, decision.reason)
    pending = intent(fingerprint, current_clear, decision.generation)
    store.save(pending)
    prediction = create(prepared, idempotency_key(task_identity(context), fingerprint, decision.generation))
    store.save(pending.with_prediction(prediction.id))
    log.info("submitted prediction %s (%s)", prediction.id, prediction.status.value)
    return Submitted(prediction.id, prediction, decision)


class RecordStore:
    """Reads and writes one record under one key of the task's store; never swallows a failure."""

    def __init__(self, store: StateStore, key: str = RECORD_KEY) -> None:
        self.store = store
        self.key = key

    @classmethod
    def from_context(
        cls, context: Mapping[str, Any], key: str = RECORD_KEY, *, starting: bool = False
    ) -> RecordStore:
        """``starting``: as a try's ``execute`` begins (try 1 then reads nothing: ``FirstTryStore``)."""
        return cls(for_task(context, "retry without duplicate predictions", starting=starting), key)

    def load(self) -> SubmissionRecord | None:
        value = read_value(self.store, self.key)
        return None if value is None else SubmissionRecord.from_json(value)

    def save(self, record: SubmissionRecord) -> None:
        write_value(self.store, self.key, record.to_json())
