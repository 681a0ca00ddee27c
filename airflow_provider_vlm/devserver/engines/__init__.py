"""Engines turn one request's input into a prediction outcome; ``run`` picks one by domain and media."""

from __future__ import annotations

from . import generic, invoice, markdown
from .base import EngineError, EngineInput, EngineResult

__all__ = ["EngineError", "EngineInput", "EngineResult", "run"]


def run(inp: EngineInput) -> EngineResult:
    """The outcome for ``inp``; an unreadable input gives a failed outcome, never an exception."""
    try:
        return _dispatch(inp)
    except EngineError as exc:
        return EngineResult(
            None, {"elements_processed": 0, "element_type": _element(inp), "credits_used": 0}, str(exc)
        )


def _dispatch(inp: EngineInput) -> EngineResult:
    has_content = inp.media == "document" and inp.content is not None
    if has_content and inp.domain == invoice.DOMAIN and not inp.config.get("json_schema"):
        return invoice.run(inp)
    if has_content and inp.domain == "document.markdown":
        return markdown.run(inp)
    return generic.run(inp)


def _element(inp: EngineInput) -> str:
    return {"image": "image", "audio": "audio", "video": "video"}.get(inp.media, "page")
