"""Request bodies of the API and admin routes; unknown fields are kept, as the real API allows them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class FileGenerateBody(_Body):
    """``POST /{document,audio,video}/generate``: exactly one of ``file_id`` and ``url``."""

    model: str = "vlm-1"
    domain: str
    file_id: str | None = None
    url: str | None = None
    batch: bool = False
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    callback_url: str | None = None


class ImageGenerateBody(_Body):
    """``POST /image/generate``: ``images`` are data URLs (or http URLs, which are not fetched)."""

    model: str = "vlm-1"
    domain: str
    images: list[str]
    batch: bool = False
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    callback_url: str | None = None


class FileSchemaBody(_Body):
    file_id: str | None = None
    url: str | None = None


class ImageSchemaBody(_Body):
    images: list[str]


class DomainSchemaBody(_Body):
    domain: str
    config: dict[str, Any] | None = None


class HubSchemaBody(_Body):
    """``POST /hub/schema``: the SDK sends ``gql_stmt`` too (null unless given); it selects nothing here."""

    domain: str
    gql_stmt: str | None = None


class FeedbackSubmitBody(_Body):
    """``POST /feedback/submit``: a corrected response, notes, or both, for one prediction."""

    request_id: str
    response: dict[str, Any] | None = None
    notes: str | None = None


class FinishBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Seconds from now at which every unfinished prediction finishes.
    after: float = Field(default=0.0, ge=0)


class PublishSchemaBody(BaseModel):
    """``POST /_dev/schemas``: the platform publishes a new schema for a known domain."""

    model_config = ConfigDict(extra="forbid")

    domain: str
    json_schema: dict[str, Any]
    version: str = Field(min_length=1)


class ResetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: bool = False
