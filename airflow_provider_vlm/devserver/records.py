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
    #: What the request asked for beyond its input (``request_info``), for ``GET /_dev/predictions/{id}``.
    request: dict[str, Any] = field(default_factory=dict)

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

    def to_dev_wire(self, now: float) -> dict[str, Any]:
        """The admin view: the wire record plus what the request asked for and its idempotency key."""
        return {
            **self.to_wire(now),
            "request": self.request,
            "idempotency_key": self.idempotency_key or None,
            "batch": self.batch,
            "completes_at": iso(self.ready_at),
        }


def request_info(config: dict[str, Any] | None, metadata: dict[str, Any] | None, tier: str) -> dict[str, Any]:
    """What the server records of a generate request besides its input: tier, metadata, options.

    ``metadata`` is kept as sent (``None`` when the request had none), so a test can tell "sent
    ``allow_training=false``" from "sent nothing".
    """
    config = config or {}
    return {
        "service_tier": tier,
        "service_tier_requested": config.get("service_tier"),
        "metadata": metadata,
        "confidence": bool(config.get("confidence")),
        "grounding": bool(config.get("grounding")),
    }


@dataclass
class FeedbackRecord:
    """A correction or note sent back for a prediction (``POST /feedback/submit``)."""

    id: str
    request_id: str
    created_at: float
    response: dict[str, Any] | None = None
    notes: str | None = None
    idempotency_key: str = ""
    fingerprint: str = ""

    def to_submit_wire(self) -> dict[str, Any]:
        """The SDK's ``FeedbackSubmitResponse``."""
        return {"id": self.id, "request_id": self.request_id, "created_at": iso(self.created_at)}

    def to_item_wire(self) -> dict[str, Any]:
        """One ``FeedbackItem`` of ``GET /feedback/{request_id}``."""
        return {
            "id": self.id,
            "created_at": iso(self.created_at),
            "response": self.response,
            "notes": self.notes,
        }
