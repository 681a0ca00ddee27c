"""What every engine takes and gives, so that the routes never see an engine's internals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MARKER_KEY = "_devserver"


class EngineError(Exception):
    """The input cannot be read (not a PDF, corrupt PDF, broken XML): the prediction fails with this."""


@dataclass(frozen=True)
class EngineInput:
    """One generate request's input, already resolved from file id, URL or data URLs."""

    media: str
    domain: str
    content: bytes | None = None
    filename: str | None = None
    url: str | None = None
    images: tuple[bytes, ...] = ()
    image_urls: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class EngineResult:
    """A finished prediction's outcome: a response, or a failure message; usage either way."""

    response: dict[str, Any] | None
    usage: dict[str, Any]
    message: str | None = None


def usage(count: int, element_type: str) -> dict[str, Any]:
    """The API's usage block; ``credits_used`` is set when the prediction is billed (``tiers.bill``)."""
    return {"elements_processed": count, "element_type": element_type, "credits_used": count}


def marker(engine: str, **details: Any) -> dict[str, Any]:
    """The mark that a response was produced by the dev server, and by which engine."""
    return {MARKER_KEY: {"engine": engine, **details}}
