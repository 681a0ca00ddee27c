"""The batch's inputs: a folder listing or a (templated) list, turned into labelled, loaded inputs.

The label (the path, URI or URL as given) keys the durable state, the output rows and the log
lines, so it is the same in every try.
"""

from __future__ import annotations

import ast
import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_vlm.client import VlmInputError
from airflow_provider_vlm.operators._batch_output import as_storage_path
from airflow_provider_vlm.operators._inputs import LoadedInput, load_images, load_input

log = logging.getLogger(__name__)

#: Longest error text kept per input (state, output rows, summary).
MAX_ERROR_CHARS = 300


def short(text: object) -> str:
    value = str(text)
    return value if len(value) <= MAX_ERROR_CHARS else value[: MAX_ERROR_CHARS - 1] + "…"


def resolve_inputs(*, owner: str, inputs: Any, source: Any, pattern: str) -> list[tuple[str, Any]]:
    """``(label, value)`` per input, duplicates dropped, in a stable order."""
    if source is not None:
        folder = as_storage_path(source)
        if not folder.is_dir():
            raise VlmInputError(f"{owner}: source is not a folder: {folder}")
        values: list[Any] = sorted((p for p in folder.glob(pattern) if p.is_file()), key=str)
        if not values:
            log.warning("no file under %s matches %r", folder, pattern)
    else:
        values = _input_list(owner, inputs)
    seen: dict[str, Any] = {}
    for value in values:
        if isinstance(value, str):
            label = value.strip()
        elif isinstance(value, os.PathLike) or hasattr(value, "read_bytes"):
            label = str(value)
        else:
            label = ""
        if not label:
            raise VlmInputError(f"{owner}: inputs must be paths, URIs or URLs; got {value!r}")
        if label in seen:
            log.warning("input %s is listed twice; processing it once", label)
            continue
        seen[label] = value
    return list(seen.items())


def _input_list(owner: str, value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value.strip())  # a rendered Jinja list without native rendering
        except (ValueError, SyntaxError):
            raise VlmInputError(
                f"{owner}: inputs must be a list; got the string {short(value)!r} "
                "(pass a task's .output, or set render_template_as_native_obj=True)"
            ) from None
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise VlmInputError(f"{owner}: inputs must be a list, got {type(value).__name__}")
    return list(value)


def load_one(media: str, value: Any) -> LoadedInput | VlmInputError:
    """Read and hash one input; an unreadable one is returned as its error (reported, not raised)."""
    try:
        if media == "image":
            return load_images([value])
        return load_input(file=value)
    except VlmInputError as exc:
        return exc
