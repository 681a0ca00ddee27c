"""The batch's inputs: a folder listing or a (templated) list, turned into labelled, loaded inputs.

The label (the path, URI or URL as given) keys the durable state, the output rows and the log
lines, so it is the same in every try. A source folder that does not exist lists no inputs (on
object storage a prefix with no objects does not exist either); ``min_inputs`` decides whether
so few inputs are a failure (:func:`too_few_inputs`).
"""

from __future__ import annotations

import ast
import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_vlm.client import VlmInputError
from airflow_provider_vlm.client.errors import TaskRetry
from airflow_provider_vlm.operators._batch_output import as_storage_path
from airflow_provider_vlm.operators._inputs import LoadedInput, load_images, load_input

log = logging.getLogger(__name__)

#: Longest error text kept per input (state, output rows, summary).
MAX_ERROR_CHARS = 300


def short(text: object) -> str:
    value = str(text)
    return value if len(value) <= MAX_ERROR_CHARS else value[: MAX_ERROR_CHARS - 1] + "…"


class BatchTooFewInputsError(VlmInputError):
    """The batch listed fewer inputs than ``min_inputs``: an empty night is a failure, not a success.

    Retrying within minutes would list the same folder again, so the task fails without spending
    its retries; when the files arrive later, a Clear runs the task again.
    """

    task_retry = TaskRetry.FAIL


def resolve_inputs(*, owner: str, inputs: Any, source: Any, pattern: str) -> list[tuple[str, Any]]:
    """``(label, value)`` per input, duplicates dropped, in a stable order."""
    if source is not None:
        folder = as_storage_path(source)
        values: list[Any] = []
        if folder.is_dir():
            values = sorted((p for p in folder.glob(pattern) if p.is_file()), key=str)
        elif folder.exists():
            raise VlmInputError(f"{owner}: source is not a folder: {folder}")
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


def describe_source(source: Any, pattern: str, inputs_origin: str) -> str:
    """Where the inputs came from, for a message: the folder and pattern, or the list's origin."""
    if source is None:
        return inputs_origin
    folder = as_storage_path(source)
    missing = "" if folder.exists() else " (the folder does not exist)"
    return f"{folder} matching {pattern!r}{missing}"


def inputs_origin(inputs: Any) -> str:
    """How the ``inputs`` argument names its origin before rendering: the upstream task, if any."""
    upstream = getattr(getattr(inputs, "operator", None), "task_id", None)
    return f"the inputs listed by task {upstream!r}" if upstream else "the inputs list"


def run_description(context: Mapping[str, Any]) -> str:
    """The run a batch belongs to, as a message names it: run id and logical date (or its absence)."""
    dag_run = context.get("dag_run")
    run_id = getattr(dag_run, "run_id", None) or context.get("run_id") or "?"
    logical_date = context.get("logical_date")
    if logical_date is not None:
        return f"run {run_id}, logical date {logical_date}"
    return f"run {run_id}, no logical date, run after {getattr(dag_run, 'run_after', None)}"


def too_few_inputs(
    *, owner: str, found: int, min_inputs: int, where: str, run: str
) -> BatchTooFewInputsError:
    """The error of a batch that listed fewer than ``min_inputs`` inputs, naming where it looked."""
    return BatchTooFewInputsError(
        f"{owner}: {found} input{'' if found == 1 else 's'} in {where}, fewer than min_inputs={min_inputs} "
        f"({run}); failing without retries: check that the files arrived, Clear the task when they "
        "do, or set min_inputs=0 to accept an empty batch"
    )


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
