"""Checks and encodings of user inputs, done before anything is sent."""

from __future__ import annotations

import base64
import io
import mimetypes
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from airflow_provider_vlm.client.errors import VlmInputError
from airflow_provider_vlm.client.models import MEDIA

_DOMAIN_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$")
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"%PDF", "application/pdf"),
)


def check_media(media: str) -> str:
    if media not in MEDIA:
        raise VlmInputError(f"unknown media {media!r}: expected one of {', '.join(MEDIA)}")
    return media


def check_domain(domain: str) -> str:
    if not isinstance(domain, str) or not _DOMAIN_RE.match(domain):
        raise VlmInputError(
            f"malformed domain {domain!r}: expected lowercase '<category>.<name>', e.g. 'document.invoice'"
        )
    return domain


def check_url(url: str, *, name: str = "url") -> str:
    if not isinstance(url, str):
        raise VlmInputError(f"{name} must be a string, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise VlmInputError(f"{name} must be an http(s) URL with a host, got {url!r}")
    return url


def check_id(value: str, *, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise VlmInputError(f"{name} must be a non-empty string, got {value!r}")
    return value


def is_http_url(value: object) -> bool:
    return isinstance(value, str) and urlsplit(value).scheme in ("http", "https")


def as_path(value: object) -> Path | None:
    """A local path for str/PathLike inputs, else ``None``."""
    if isinstance(value, (str, os.PathLike)):
        return Path(os.fspath(value))
    return None


def mime_type(data: bytes, filename: str | None) -> str:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    guessed = mimetypes.guess_type(filename or "")[0]
    return guessed or "application/octet-stream"


def data_url(data: bytes, filename: str | None = None) -> str:
    return f"data:{mime_type(data, filename)};base64,{base64.b64encode(data).decode('ascii')}"


def pil_to_png(image: Any) -> bytes | None:
    """PNG bytes of a PIL image, or ``None`` if ``image`` is not one (Pillow stays optional)."""
    if not (hasattr(image, "save") and hasattr(image, "mode") and hasattr(image, "size")):
        return None
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def dump_options(value: BaseModel | Mapping[str, Any] | None, *, name: str) -> dict[str, Any] | None:
    """``config``/``metadata`` as JSON, without unset fields; unknown keys pass through."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items() if v is not None}
    raise VlmInputError(f"{name} must be a mapping or a pydantic model, got {type(value).__name__}")


def looks_like_file_id(value: object) -> bool:
    """The SDK's rule for ``file="..."``: a string without a suffix names a stored file, not a path.

    Narrowed here: it must also have no directory part and not be a local file.
    """
    if not isinstance(value, str) or not value or os.sep in value or "/" in value:
        return False
    return not Path(value).suffix and not Path(value).exists()
