"""Wire models of the VLM Run API.

Every reply model keeps unknown fields (``extra="allow"``): the API grows, and a new field must
never break a running pipeline.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Media = Literal["image", "document", "audio", "video"]
MEDIA: tuple[str, ...] = ("image", "document", "audio", "video")


class PredictionStatus(str, enum.Enum):
    """The one source of truth for prediction states.

    A member is its wire string: ``status == "completed"``, ``status in ["completed", "failed"]``
    and ``f"{status}"`` all read as the documentation's strings.
    """

    ENQUEUED = "enqueued"
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    PAUSED = "paused"

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_success(self) -> bool:
        return self is PredictionStatus.COMPLETED


_TERMINAL = frozenset({PredictionStatus.COMPLETED, PredictionStatus.FAILED})


class _Reply(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class CreditUsage(_Reply):
    elements_processed: int | None = None
    element_type: str | None = None
    #: Whole credits, as documented; a fractional value from a server is kept as a float.
    credits_used: int | float | None = None


class Prediction(_Reply):
    """A prediction as the API reports it (the SDK calls it ``PredictionResponse``).

    ``response`` is the JSON result, or a pydantic model when the call asked for ``autocast``.
    """

    id: str
    status: PredictionStatus
    type: str | None = None
    domain: str | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    response: Any = None
    usage: CreditUsage = Field(default_factory=CreditUsage)
    message: str | None = None

    def record(self) -> dict[str, Any]:
        """The JSON shape operators and sensors return (XCom ``return_value``)."""
        return {
            "id": self.id,
            "status": self.status.value,
            "type": self.type,
            "domain": self.domain,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "response": response_json(self.response),
            "usage": self.usage.model_dump(mode="json", exclude_none=False),
        }

    @property
    def error_message(self) -> str:
        """The server's reason for a failed prediction, as well as it can be found."""
        if self.message:
            return self.message
        extra = self.model_extra or {}
        for key in ("error", "error_message", "detail"):
            value = extra.get(key)
            if isinstance(value, dict) and value.get("message"):
                return str(value["message"])
            if value:
                return str(value)
        if isinstance(self.response, dict) and isinstance(self.response.get("error"), str):
            return str(self.response["error"])
        return "the server gave no reason"


#: The official SDK's name for a prediction.
PredictionResponse = Prediction


def response_json(response: Any) -> Any:
    """The JSON form of a response, whether it was autocast to a model or not."""
    if isinstance(response, BaseModel):
        return response.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return response


class FileInfo(_Reply):
    id: str
    filename: str | None = None
    bytes: int | None = None
    purpose: str | None = None
    created_at: datetime | None = None
    object: str | None = "file"
    public_url: str | None = None


class SchemaInfo(_Reply):
    domain: str
    description: str | None = None
    schema_version: str | None = None
    schema_hash: str | None = None
    gql_stmt: str | None = None
    json_schema: dict[str, Any] = Field(default_factory=dict)


class DomainInfo(_Reply):
    domain: str


#: The official SDK's names for these replies.
FileResponse = FileInfo
SchemaResponse = SchemaInfo


class FeedbackSubmitResponse(_Reply):
    """What ``client.feedback.submit`` answers: the new feedback's id (the SDK's name)."""

    id: str
    request_id: str
    created_at: datetime | None = None


class FeedbackItem(_Reply):
    """One feedback kept for a prediction: the corrected response and/or notes."""

    id: str
    created_at: datetime | None = None
    response: dict[str, Any] | None = None
    notes: str | None = None


class FeedbackListResponse(_Reply):
    """What ``client.feedback.get`` answers: a prediction's feedback, oldest first."""

    request_id: str
    items: list[FeedbackItem] = Field(default_factory=list)


class GenerationConfig(_Reply):
    """Request options; unknown keys are passed through to the server unchanged."""

    prompt: str | None = None
    json_schema: dict[str, Any] | None = None
    gql_stmt: str | None = None
    max_retries: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    detail: Literal["auto", "lo", "hi"] | None = None
    confidence: bool | None = None
    grounding: bool | None = None
    page_indices: list[int] | None = None
    service_tier: str | None = None


class RequestMetadata(_Reply):
    environment: Literal["dev", "staging", "prod"] | None = None
    session_id: str | None = None
    allow_training: bool | None = None
