"""Operator inputs: checked at DAG parse time where possible, loaded on the worker.

``file`` is a local path, an ``ObjectStoragePath`` or a URI (``s3://…``, ``file://…``); a file
already stored on the server is given by ``file_id``. A string given as ``file`` is never taken
for a file id: a path that does not exist fails at once, naming it. Loading reads the content once
and hashes it, so the fingerprint, the md5 dedupe and the upload all use the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_vlm.client import MEDIA, VlmInputError, check_domain, check_url, data_url, is_http_url

#: A bare word (no directory, no extension), as file ids look: as ``file`` it is almost surely one.
_BARE_WORD_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
INPUT_NAMES = ("file", "file_id", "url", "images")


def is_template(value: object) -> bool:
    """Jinja strings are checked after rendering, not at parse time."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def check_arguments(
    *,
    media: str,
    domain: str | None,
    file: object = None,
    file_id: object = None,
    url: object = None,
    images: object = None,
    owner: str = "GenerateOperator",
) -> None:
    """Parse-time checks; every message names the argument that is wrong."""
    if media not in MEDIA:
        raise VlmInputError(f"{owner}: media={media!r} is unknown; use one of {', '.join(MEDIA)}")
    if domain is not None and not is_template(domain):
        try:
            check_domain(domain)
        except VlmInputError as exc:
            raise VlmInputError(f"{owner}: domain: {exc.message}") from None
    values = {"file": file, "file_id": file_id, "url": url, "images": images}
    given = [name for name, value in values.items() if value is not None]
    if len(given) != 1:
        what = "none of them" if not given else " and ".join(given)
        raise VlmInputError(f"{owner}: give exactly one of file, file_id, url or images; got {what}")
    if (
        file_id is not None
        and not is_template(file_id)
        and (not isinstance(file_id, str) or not file_id.strip())
    ):
        raise VlmInputError(f"{owner}: file_id must be a non-empty string, got {file_id!r}")
    if isinstance(file, str) and not is_template(file):
        check_file_string(file, owner=owner)
    if images is not None:
        if media != "image":
            raise VlmInputError(f"{owner}: images is only for media='image', not media={media!r}")
        if isinstance(images, (list, tuple)) and not images:
            raise VlmInputError(f"{owner}: images is empty; give at least one image path or URL")
    if url is not None and not is_template(url) and isinstance(url, str):
        try:
            check_url(url)
        except VlmInputError as exc:
            raise VlmInputError(f"{owner}: {exc.message}") from None


@dataclass(frozen=True)
class LoadedInput:
    """One input, ready to submit: content (with md5), a stored file id, a URL, or images."""

    label: str
    content: bytes | None = field(default=None, repr=False)
    filename: str | None = None
    md5: str | None = None
    file_id: str | None = None
    url: str | None = None
    images: tuple[str, ...] = ()

    def identity(self) -> dict[str, Any]:
        """What the fingerprint hashes: content hash, file id, URL or images, never the bytes."""
        return {"md5": self.md5, "file_id": self.file_id, "url": self.url, "images": list(self.images)}


def request_source(loaded: LoadedInput, media: str) -> dict[str, Any]:
    """The client keyword that carries this input: ``url``, ``images``, ``file_id`` or ``file`` (bytes)."""
    if loaded.url is not None:
        return {"images": [loaded.url]} if media == "image" else {"url": loaded.url}
    if loaded.images:
        return {"images": list(loaded.images)}
    if loaded.file_id is not None:
        return {"file_id": loaded.file_id}
    assert loaded.content is not None
    return {"images": [loaded.content]} if media == "image" else {"file": loaded.content}


def _read(value: Any) -> tuple[bytes, str]:
    """Bytes and file name of a path, ObjectStoragePath or URI."""
    if isinstance(value, str) and "://" in value:
        from airflow.sdk import ObjectStoragePath

        value = ObjectStoragePath(value)
    if hasattr(value, "read_bytes") and not isinstance(value, Path):
        try:
            return value.read_bytes(), str(value.name)
        except FileNotFoundError:
            raise VlmInputError(f"file not found: {value}") from None
        except OSError as exc:
            raise VlmInputError(f"cannot read {value}: {exc}") from None
    path = Path(os.fspath(value))
    try:
        return path.read_bytes(), path.name
    except FileNotFoundError:
        raise VlmInputError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise VlmInputError(f"expected a file but got a directory: {path}") from None
    except OSError as exc:
        raise VlmInputError(f"cannot read file {path}: {exc.strerror or exc}") from None


def check_file_string(file: str, *, owner: str) -> None:
    """At parse time: an empty ``file``, or a bare word that is not a path here, is an error.

    A path is otherwise checked on the worker (the DAG processor may not see the worker's files);
    a bare word such as ``"invoice_march"`` is almost surely meant as a stored file's id.
    """
    if not file.strip():
        raise VlmInputError(f"{owner}: file is an empty string")
    if _BARE_WORD_RE.match(file) and not Path(file).exists():
        raise VlmInputError(
            f"{owner}: file={file!r} is not an existing path or a URI; "
            f"to use a file already stored on the server, pass file_id={file!r}"
        )


def load_file(file: Any) -> LoadedInput:
    if isinstance(file, str) and _BARE_WORD_RE.match(file) and not Path(file).exists():
        raise VlmInputError(
            f"file not found: {file!r} (to use a file already stored on the server, pass file_id={file!r})"
        )
    data, name = _read(file)
    if not data:
        raise VlmInputError(f"file is empty: {file}")
    return LoadedInput(
        label=str(file), content=data, filename=name, md5=hashlib.md5(data, usedforsecurity=False).hexdigest()
    )


def load_images(images: Sequence[Any]) -> LoadedInput:
    """Images as URLs or data URLs (local files are read and encoded here, once)."""
    if isinstance(images, (str, os.PathLike)):
        images = [images]
    if not images:
        raise VlmInputError("images is empty; give at least one image path or URL")
    refs: list[str] = []
    for image in images:
        if is_http_url(image) or (isinstance(image, str) and image.startswith("data:")):
            refs.append(str(image))
        else:
            data, name = _read(image)
            refs.append(data_url(data, name))
    digest = hashlib.md5("\n".join(refs).encode(), usedforsecurity=False).hexdigest()
    return LoadedInput(label=f"{len(refs)} image(s)", images=tuple(refs), md5=digest)


def load_input(
    *,
    file: Any = None,
    file_id: str | None = None,
    url: str | None = None,
    images: Sequence[Any] | None = None,
) -> LoadedInput:
    """Resolve exactly one rendered input; raise ``VlmInputError`` naming what is wrong."""
    values = {"file": file, "file_id": file_id, "url": url, "images": images}
    given = [n for n, v in values.items() if v is not None]
    if len(given) != 1:
        raise VlmInputError(
            f"give exactly one of file, file_id, url or images; got {' and '.join(given) or 'none'}"
        )
    if file_id is not None:
        if not isinstance(file_id, str) or not file_id.strip():
            raise VlmInputError(f"file_id must be a non-empty string, got {file_id!r}")
        return LoadedInput(label=f"file {file_id}", file_id=file_id.strip())
    if url is not None:
        return LoadedInput(label=url, url=check_url(url))
    if images is not None:
        return load_images(images)
    if isinstance(file, str) and is_http_url(file):
        return LoadedInput(label=file, url=file)
    return load_file(file)
