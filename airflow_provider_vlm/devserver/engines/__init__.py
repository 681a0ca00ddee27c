"""Engines turn one request's input into a prediction outcome; ``run`` picks one by domain and media.

When the request names a schema (``config.json_schema``), the engine's fields are then shaped to
it (``shaping.conform``), so a user's model gets the values the engine really extracted.
"""

from __future__ import annotations

from typing import Any

from .. import shaping
from . import generic, invoice, markdown
from .base import MARKER_KEY, EngineError, EngineInput, EngineResult

#: What a field's metadata sibling is named after: ``invoice_id`` -> ``invoice_id_metadata``.
METADATA_SUFFIX = "_metadata"

__all__ = ["EngineError", "EngineInput", "EngineResult", "requested_schema", "run"]


def run(inp: EngineInput) -> EngineResult:
    """The outcome for ``inp``; an unreadable input gives a failed outcome, never an exception."""
    try:
        result = _dispatch(inp)
    except EngineError as exc:
        return EngineResult(
            None, {"elements_processed": 0, "element_type": _element(inp), "credits_used": 0}, str(exc)
        )
    schema = requested_schema(inp.config)
    if schema is not None and result.response is not None:
        result = EngineResult(shape(schema, result.response), result.usage, result.message)
    return result


def requested_schema(config: dict[str, Any]) -> dict[str, Any] | None:
    """``config.json_schema`` when the request carries one (the SDK's ``response_model`` too)."""
    schema = config.get("json_schema")
    return schema if isinstance(schema, dict) else None


def shape(schema: dict[str, Any], response: dict[str, Any]) -> dict[str, Any] | Any:
    """``response``'s fields shaped to ``schema``; the mark says which fields were filled how.

    A field filled from an extracted one takes that field's ``X_metadata`` along, under its own
    name (``invoice_number_metadata`` from ``invoice_id_metadata``).
    """
    extracted = {k: v for k, v in response.items() if k != MARKER_KEY and not k.endswith(METADATA_SUFFIX)}
    mark = dict(response.get(MARKER_KEY) or {})
    value, report = shaping.conform(schema, extracted)
    if isinstance(value, dict) and shaping.allows_extra_keys(schema):
        for name in report.extracted:
            key = shaping.source_key(name, extracted)
            found = response.get(f"{key}{METADATA_SUFFIX}") if key else None
            if found is not None and f"{name}{METADATA_SUFFIX}" not in value:
                value[f"{name}{METADATA_SUFFIX}"] = found
        value[MARKER_KEY] = {**mark, "schema": "config.json_schema", "fields": report.to_wire()}
    return value


def _dispatch(inp: EngineInput) -> EngineResult:
    has_content = inp.media == "document" and inp.content is not None
    if inp.domain == invoice.DOMAIN and (has_content or (inp.media == "image" and inp.images)):
        return invoice.run(inp)  # image.generate with document.invoice: each image a scanned page
    if has_content and inp.domain == "document.markdown":
        return markdown.run(inp)
    return generic.run(inp)


def _element(inp: EngineInput) -> str:
    return {"image": "image", "audio": "audio", "video": "video"}.get(inp.media, "page")
