"""``VlmFeedbackOperator``: send each reviewer's correction back to the platform, exactly once.

One ``feedback.submit`` per correction (:class:`~airflow_provider_vlm.invoices.Correction`), and
never a second one for the same :attr:`Correction.key` — across retries, Clears and a worker
killed between the submit and the record. Three things make that hold, because none of them does
alone:

- **A durable record** (the provider's store: ``task_state_store``, Variables below Airflow 3.3)
  keyed by the correction's ``key``: an intent written before the submit, the feedback id after.
  A retry skips every correction recorded as sent without asking the server.
- **A marker in what is sent**: the notes end with the line ``vlm-correction-key: <key>``. A
  correction not recorded as sent (the worker died after the submit, the answer was lost, a Clear
  or an Airflow line that dropped the record) is first looked up with ``feedback.get``; a
  feedback carrying its marker is the one sent earlier, and nothing is sent again. This does not
  depend on the platform honouring ``Idempotency-Key``, which the real API may not.
- **An ``Idempotency-Key`` derived from ``key``**: on a server that honours it, even two tries
  racing past the look-up keep one feedback.

What is sent: ``corrected`` sends the prediction's response with the corrected fields in place
(a whole document, so the platform learns what the model should have returned) and the notes;
``rejected`` and ``accepted`` send notes only (``rejected: <notes>``, ``accepted``): a rejected
invoice has no right answer to teach, an accepted one confirms the extraction. The reviewer's
name stays in Airflow (personal data the platform does not need). See ``docs/feedback.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_vlm._compat import task_entry
from airflow_provider_vlm._retry_note import hands_over_to_retries
from airflow_provider_vlm.client import NotFoundError, VlmInputError
from airflow_provider_vlm.hooks.vlm import VlmHook, check_max_retries
from airflow_provider_vlm.invoices.corrections import Correction
from airflow_provider_vlm.retry_policy import with_default_retry_policy
from airflow_provider_vlm.state_store import ChunkedList, for_task

if TYPE_CHECKING:
    from airflow.sdk import Context

#: ``task_state_store`` key of the feedback record. Renaming it breaks in-flight retries.
FEEDBACK_RECORD_KEY = "vlm_feedback"
#: The line that ends every feedback's notes: how a later try recognises what was sent.
MARKER_PREFIX = "vlm-correction-key: "
#: Feedback read per page while looking for a marker.
PAGE = 100


def marker(key: str) -> str:
    """The notes line that names the correction a feedback was sent for."""
    return f"{MARKER_PREFIX}{key}"


def feedback_idempotency_key(key: str) -> str:
    """The ``Idempotency-Key`` of a correction's feedback: the same correction, the same key."""
    return f"vlm-feedback-{key}"


def feedback_notes(correction: Correction) -> str:
    """The notes sent with a correction: the decision, the reviewer's notes, then the marker line."""
    head = correction.decision + (f": {correction.notes}" if correction.notes else "")
    return f"{head}\n{marker(correction.key)}"


def as_corrections(value: Any, *, owner: str) -> list[Correction]:
    """The rendered ``corrections`` argument as corrections; a bad one fails before anything is sent."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise VlmInputError(
            f"{owner}: corrections must be a list of correction dicts, not {type(value).__name__}"
        )
    found: list[Correction] = []
    for index, item in enumerate(value):
        try:
            found.append(item if isinstance(item, Correction) else Correction.from_dict(item))
        except ValueError as exc:
            raise VlmInputError(f"{owner}: correction {index}: {exc}") from None
    return found


class FeedbackRecord:
    """What this task sent: one item ``{"key", "prediction_id", "feedback_id"}`` per correction.

    ``feedback_id`` is ``None`` while only the intent is known (written just before the submit).
    Items live in a :class:`~airflow_provider_vlm.state_store.ChunkedList`, under the store's
    value size limit however many corrections a night has.
    """

    def __init__(self, items: ChunkedList) -> None:
        self.items = items
        self.index = {item["key"]: i for i, item in enumerate(items.items)}

    @classmethod
    def load(cls, context: Context) -> FeedbackRecord:
        store = for_task(context, "send each correction's feedback once", starting=True)
        return cls(ChunkedList(store, FEEDBACK_RECORD_KEY).load())

    def feedback_id(self, key: str) -> str | None:
        at = self.index.get(key)
        return None if at is None else self.items.items[at].get("feedback_id")

    def has_intent(self, key: str) -> bool:
        return key in self.index and self.feedback_id(key) is None

    def save(self, correction: Correction, feedback_id: str | None) -> None:
        item = {
            "key": correction.key,
            "prediction_id": correction.prediction_id,
            "feedback_id": feedback_id,
            "at": datetime.now(timezone.utc).isoformat(),
        }
        at = self.index.get(correction.key)
        if at is None:
            self.index[correction.key] = self.items.append(item)
        else:
            self.items.replace(at, item)
        self.items.flush()


class VlmFeedbackOperator(BaseOperator):
    """Send one ``feedback.submit`` per reviewer's correction; never twice for the same correction.

    Returns ``[{"prediction_id", "key", "feedback_id", "status"}]``, ``status`` being ``sent`` (by
    this try) or ``already_sent`` (by an earlier try or run, found in the record or on the
    server). A correction for an unknown prediction fails the task naming the prediction and its
    file, after the others were sent; that error is not retried. Transient errors follow the
    provider's retry policy, and the retry sends only what is left.

    :param corrections: a list of correction dicts (``Correction.to_dict()``) or ``Correction``
        objects (templated; an ``XComArg`` of the review step works).
    :param vlm_conn_id: Airflow connection of type ``vlm``.
    :param max_retries: the retry budget of each API call (default: the connection's
        ``max_retries`` extra). See ``docs/retries.md``.
    """

    template_fields: Sequence[str] = ("corrections",)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        corrections: Any,
        vlm_conn_id: str = VlmHook.default_conn_name,
        max_retries: int | None = None,
        **kwargs: Any,
    ) -> None:
        with_default_retry_policy(kwargs)
        super().__init__(**kwargs)
        if isinstance(corrections, (list, tuple)):
            as_corrections(corrections, owner=self.task_id)  # a literal list fails at parse time
        self.corrections = corrections
        self.vlm_conn_id = vlm_conn_id
        self.max_retries = check_max_retries(max_retries, owner=self.task_id)

    @cached_property
    def hook(self) -> VlmHook:
        return VlmHook(self.vlm_conn_id, max_retries=self.max_retries)

    @task_entry
    @hands_over_to_retries
    def execute(self, context: Context) -> list[dict[str, Any]]:
        corrections = as_corrections(self.corrections, owner=self.task_id)
        record = FeedbackRecord.load(context)
        results: list[dict[str, Any]] = []
        unknown: list[Correction] = []
        done: set[str] = set()
        for correction in corrections:
            if correction.key in done:  # the same correction twice in the list: one feedback
                continue
            try:
                feedback_id, status = self._send_once(correction, record)
            except NotFoundError:
                unknown.append(correction)
                continue
            done.add(correction.key)
            results.append(
                {
                    "prediction_id": correction.prediction_id,
                    "key": correction.key,
                    "feedback_id": feedback_id,
                    "status": status,
                }
            )
        sent = sum(r["status"] == "sent" for r in results)
        self.log.info(
            "feedback: %d sent, %d already sent earlier, of %d correction(s)",
            sent,
            len(results) - sent,
            len(corrections),
        )
        if unknown:
            names = ", ".join(f"{c.prediction_id} ({c.input})" for c in unknown)
            raise NotFoundError(
                f"{self.task_id}: the platform knows no prediction {names}: their feedback was not sent "
                f"(the other {len(results)} correction(s) were); a retry cannot fix an unknown prediction",
                status_code=404,
            )
        return results

    def _send_once(self, correction: Correction, record: FeedbackRecord) -> tuple[str, str]:
        """The feedback id of ``correction`` and whether this try sent it or found it sent."""
        known = record.feedback_id(correction.key)
        if known is not None:
            self.log.info(
                "correction %s of %s: already sent (feedback %s)",
                correction.key,
                correction.prediction_id,
                known,
            )
            return known, "already_sent"
        found = self._find_on_server(correction)
        if found is not None:
            self.log.info(
                "correction %s of %s: the platform already holds it (feedback %s); not sending again",
                correction.key,
                correction.prediction_id,
                found,
            )
            record.save(correction, found)
            return found, "already_sent"
        if record.has_intent(correction.key):
            self.log.warning(
                "correction %s of %s: an earlier try began sending it, but the platform holds no "
                "feedback with its marker: sending it now",
                correction.key,
                correction.prediction_id,
            )
        response = self._corrected_response(correction)
        record.save(correction, None)  # the intent, before the submit
        reply = self.hook.submit_feedback(
            correction.prediction_id,
            response=response,
            notes=feedback_notes(correction),
            idempotency_key=feedback_idempotency_key(correction.key),
        )
        record.save(correction, reply.id)
        self.log.info(
            "correction %s of %s: sent as feedback %s", correction.key, correction.prediction_id, reply.id
        )
        return reply.id, "sent"

    def _find_on_server(self, correction: Correction) -> str | None:
        """The id of a feedback for the prediction whose notes carry this correction's marker."""
        line = marker(correction.key)
        offset = 0
        while True:
            page = self.hook.get_feedback(correction.prediction_id, offset=offset, limit=PAGE)
            for item in page.items:
                if item.notes and line in item.notes.splitlines():
                    return item.id
            if len(page.items) < PAGE:
                return None
            offset += PAGE

    def _corrected_response(self, correction: Correction) -> dict[str, Any] | None:
        """For ``corrected``: the prediction's response with the corrected fields in place."""
        if correction.decision != "corrected":
            return None
        prediction = self.hook.get_client().predictions.get(correction.prediction_id)
        original = prediction.response
        if hasattr(original, "model_dump"):
            original = original.model_dump(mode="json")
        base = dict(original) if isinstance(original, Mapping) else {}
        return {**base, **correction.fields}
