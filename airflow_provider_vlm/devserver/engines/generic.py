"""Every other domain: a result shaped like the domain's schema (nulls), marked as the dev server's.

Remote URLs are never fetched (the dev server runs without network): a URL input gets this
same placeholder result, and the marker says so.
"""

from __future__ import annotations

from typing import Any

from .. import domains
from .base import EngineInput, EngineResult, marker, usage
from .pdf import is_pdf, open_pdf, page_count


def placeholder(domain: str, config: dict[str, Any]) -> dict[str, Any]:
    """Null-filled object shaped like ``config.json_schema`` or the domain's schema, else ``{}``."""
    schema = config.get("json_schema") if isinstance(config.get("json_schema"), dict) else None
    schema = schema or domains.json_schema(domain)
    return domains.empty_instance(schema) if schema else {}


def run(inp: EngineInput, note: str | None = None) -> EngineResult:
    details: dict[str, Any] = {"note": note} if note else {}
    if inp.url is not None or inp.image_urls:
        details["note"] = "remote content is not fetched by the dev server; the result is a placeholder"
    response = {**placeholder(inp.domain, inp.config), **marker("generic", **details)}
    return EngineResult(response, _usage(inp))


def _usage(inp: EngineInput) -> dict[str, Any]:
    if inp.media == "image":
        return usage(max(len(inp.images) + len(inp.image_urls), 1), "image")
    if inp.media in ("audio", "video"):
        return usage(1, inp.media)
    if inp.content is not None and is_pdf(inp.content):
        return usage(page_count(open_pdf(inp.content)), "page")
    return usage(1, "page")
