"""Every domain without an engine of its own: a value of the domain's schema, marked as the dev server's.

Fields get ``null`` where the schema allows it and a typed value that validates elsewhere
(``shaping.conform`` with nothing extracted); the mark lists which. Remote URLs are never
fetched (the dev server runs without network): a URL input gets this same result, and the
marker says so.
"""

from __future__ import annotations

from typing import Any

from .. import domains, shaping
from .base import EngineInput, EngineResult, marker, usage
from .pdf import is_pdf, open_pdf, page_count


def placeholder(domain: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(value of ``domain``'s schema, fill report); ``({}, {})`` for a domain without a schema."""
    schema = domains.json_schema(domain)
    if schema is None:
        return {}, {}
    value, report = shaping.conform(schema, None)
    return (value if isinstance(value, dict) else {}), {"fields": report.to_wire()}


def run(inp: EngineInput, note: str | None = None) -> EngineResult:
    details: dict[str, Any] = {"note": note} if note else {}
    if inp.url is not None or inp.image_urls:
        details["note"] = "remote content is not fetched by the dev server; the result is a placeholder"
    value, report = placeholder(inp.domain)
    response = {**value, **marker("generic", **details, **report)}
    return EngineResult(response, _usage(inp))


def _usage(inp: EngineInput) -> dict[str, Any]:
    if inp.media == "image":
        return usage(max(len(inp.images) + len(inp.image_urls), 1), "image")
    if inp.media in ("audio", "video"):
        return usage(1, inp.media)
    if inp.content is not None and is_pdf(inp.content):
        return usage(page_count(open_pdf(inp.content)), "page")
    return usage(1, "page")
