"""What the server stores, and how a prediction looks on the wire at a given moment.

A prediction's status is computed from its timestamps when it is read, never advanced by a
background task: the walk through the states then needs no threads and survives a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .clock import iso

# Share of the processing time spent in each waiting state (the rest is "running").
_ENQUEUED_UNTIL = 0.25
_PENDING_UNTIL = 0.5


@dataclass
class FileRecord:
    """An uploaded file's metadata; its bytes live beside it in the store."""

    id: str
    filename: str
    bytes: int
    purpose: str
    created_at: float
    md5: str

    def to_wire(self) -> dict[str, Any]:
        """The API's FileResponse."""
        return {
            "id": self.id,
            "filename": self.filename,
            "bytes": self.bytes,
            "purpose": self.purpose,
            "created_at": iso(self.created_at),
            "object": "file",
            "public_url": None,
        }


@dataclass
class PredictionRecord:
    """A prediction whose outcome is known from the start and revealed at ``ready_at``."""

    id: str
    media: str
    domain: str
    created_at: float
    ready_at: float
    batch: bool
    response: Any = None
    message: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str = ""
    fingerprint: str = ""
    #: The ``pause`` fault: the prediction reports ``paused`` until then (0: never paused).
    paused_until: float = 0.0
    #: Where the finished record is POSTed (see ``callbacks``).
    callback_url: str | None = None

    @property
    def failed(self) -> bool:
        return self.message is not None

    def status_at(self, now: float) -> str:
        """``[paused →] enqueued → pending → running → completed|failed`` along the processing time."""
        if now >= self.ready_at:
            return "failed" if self.failed else "completed"
        if now < self.paused_until:
            return "paused"
        if not self.batch:
            return "running"
        started = max(self.created_at, self.paused_until)
        span = self.ready_at - started
        elapsed = (now - started) / span if span > 0 else 1.0
        if elapsed < _ENQUEUED_UNTIL:
            return "enqueued"
        if elapsed < _PENDING_UNTIL:
            return "pending"
        return "running"

    def to_wire(self, now: float) -> dict[str, Any]:
        """The API's PredictionResponse; results and usage appear only once it has finished."""
        status = self.status_at(now)
        done = status in ("completed", "failed")
        body: dict[str, Any] = {
            "id": self.id,
            "status": status,
            "type": self.media,
            "domain": self.domain,
            "created_at": iso(self.created_at),
            "completed_at": iso(self.ready_at) if done else None,
            "response": self.response if status == "completed" else None,
            "usage": self.usage
            if done
            else {"elements_processed": None, "element_type": None, "credits_used": None},
        }
        if status == "failed":
            body["message"] = self.message
        return body
