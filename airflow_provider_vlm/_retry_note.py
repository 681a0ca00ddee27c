"""What a try that fails with a transient error tells the user: the task's retries take over.

The client gives up once a call has used its retry budget (``max_retries``); its message says
what failed and after how many attempts. The operators add why failing is fine: a retry of the
task re-attaches to what was submitted or resends with the same ``Idempotency-Key`` (the
durable record), so nothing is billed twice.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from airflow_provider_vlm.client import VlmError

P = ParamSpec("P")
R = TypeVar("R")

HINT = (
    "the error is transient: the task's retries take over (a retry re-attaches to what was "
    "submitted, so nothing is billed twice)"
)


def hands_over_to_retries(method: Callable[P, R]) -> Callable[P, R]:
    """Mark a transient ``VlmError`` leaving ``method`` with ``HINT`` (once)."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except VlmError as exc:
            if exc.transient and getattr(exc, "hint", None) is None:
                exc.hint = HINT
            raise

    return wrapper
