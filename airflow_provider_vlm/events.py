"""The one event shape ``PredictionTrigger`` sends and operators and sensors read back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_vlm.client.waiting import WaitOutcome, WaitStatus

__all__ = ["MAX_EVENT_IDS", "PredictionEvent", "WaitStatus"]

#: A wait on more ids than this sends counts without the id list: its waiter (the batch operator)
#: keeps the ids in its record, and 10,000 ids made a 400 KB event, printed whole in the
#: triggerer's "Trigger fired event" line and stored in the trigger table.
MAX_EVENT_IDS = 10


@dataclass(frozen=True)
class PredictionEvent:
    """Small by design: ids, a message and counts; results are read on the worker, not carried here."""

    status: WaitStatus
    prediction_ids: Sequence[str]
    message: str
    counts: Mapping[str, int] = field(default_factory=dict)
    #: When the try began waiting (epoch seconds; set by the operator, carried by the trigger), so
    #: the resumed try can say how long it really waited: a resume starts the try's clock anew.
    waiting_since: float | None = None

    @classmethod
    def from_outcome(cls, outcome: WaitOutcome, waiting_since: float | None = None) -> PredictionEvent:
        """The event for how the one wait loop ended (statuses become counts; results stay behind)."""
        return cls(
            outcome.status, list(outcome.prediction_ids), outcome.message, outcome.counts, waiting_since
        )

    def to_dict(self) -> dict[str, Any]:
        ids = list(self.prediction_ids) if len(self.prediction_ids) <= MAX_EVENT_IDS else []
        event: dict[str, Any] = {
            "status": self.status.value,
            "prediction_ids": ids,
            "message": self.message,
            "counts": dict(self.counts),
        }
        if self.waiting_since is not None:
            event["waiting_since"] = self.waiting_since
        return event

    @classmethod
    def from_dict(cls, event: Mapping[str, Any]) -> PredictionEvent:
        try:
            return cls(
                status=WaitStatus(event["status"]),
                prediction_ids=list(event["prediction_ids"]),
                message=str(event.get("message", "")),
                counts=dict(event.get("counts") or {}),
                waiting_since=None if event.get("waiting_since") is None else float(event["waiting_since"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a prediction event: {event!r} ({exc})") from None
