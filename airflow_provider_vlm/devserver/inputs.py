"""Turn a request's input fields into engine input, refusing bad combinations with a clear 4xx."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from . import catalog
from .engines import EngineInput
from .errors import ApiError
from .store import Store

_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9_-]*\.[a-z0-9][a-z0-9_.-]*$")
_HTTP = ("http://", "https://")


def check_domain(domain: str) -> str:
    """``domain`` when the server knows it; else a 400 naming it and the closest known ones.

    Called before anything is resolved or created, so a typo is never billed.
    """
    if not _DOMAIN.match(domain):
        raise ApiError(
            400, f"malformed domain {domain!r}: expected '<category>.<name>', e.g. 'document.invoice'"
        )
    if catalog.get(domain) is None:
        raise ApiError(400, catalog.unknown_message(domain))
    return domain


def file_input(
    store: Store, media: str, domain: str, file_id: str | None, url: str | None, config: dict[str, Any] | None
) -> EngineInput:
    """Input from exactly one of an uploaded file's id and a URL (which is never fetched)."""
    if file_id and url:
        raise ApiError(400, "give either 'file_id' or 'url', not both")
    if not file_id and not url:
        raise ApiError(400, "one of 'file_id' or 'url' is required")
    if url:
        if not url.startswith(_HTTP):
            raise ApiError(400, f"'url' must be an http(s) URL, got {url[:80]!r}")
        return EngineInput(media=media, domain=domain, url=url, config=config or {})
    assert file_id is not None
    record = store.get_file(file_id)
    content = store.file_content(file_id) if record else None
    if record is None or content is None:
        raise ApiError(404, f"file {file_id!r} not found (upload it with POST /files first)")
    return EngineInput(
        media=media, domain=domain, content=content, filename=record.filename, config=config or {}
    )


def image_input(domain: str, images: list[str], config: dict[str, Any] | None) -> EngineInput:
    """Input from data URLs (decoded) and http(s) URLs (kept, never fetched)."""
    if not images:
        raise ApiError(400, "'images' must hold at least one image (a data URL or an http(s) URL)")
    decoded: list[bytes] = []
    urls: list[str] = []
    for index, image in enumerate(images):
        if image.startswith(_HTTP):
            urls.append(image)
        elif image.startswith("data:"):
            decoded.append(_data_url(image, index))
        else:
            raise ApiError(400, f"images[{index}] is neither a data URL nor an http(s) URL")
    return EngineInput(
        media="image", domain=domain, images=tuple(decoded), image_urls=tuple(urls), config=config or {}
    )


def _data_url(value: str, index: int) -> bytes:
    header, sep, payload = value.partition(",")
    if not sep or not header.endswith(";base64"):
        raise ApiError(400, f"images[{index}] must be a base64 data URL ('data:image/jpeg;base64,...')")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, f"images[{index}] is not valid base64: {exc}") from exc
