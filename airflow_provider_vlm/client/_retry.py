"""The one retry policy of both clients: each call is attempted at most ``max_retries + 1`` times.

What is resent comes from the error table alone (``errors.VlmError.resent``): reads retry
connection errors, timeouts, 429 and 5xx; a call that creates a billed prediction is resent only
when the request provably never reached the server (connect error) or the server refused it
(429, 503 with ``Retry-After``), because the reply is then a ``TransportError`` or a
``RateLimitError``; anything else after sending is an ``OutcomeUnknownError``, raised for the
caller to settle. ``Retry-After`` is read once, into the error (``retry_after``).

A caller that has already spent part of a call's budget (the batch's settle rounds) runs the
call inside ``attempts_at_most`` so that every layer together stays within the budget.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from airflow_provider_vlm.client.errors import VlmError

#: Transport errors raised before a single byte of the request could reach the server.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)

#: Attempts left for each call made in this context (``None``: the policy's whole budget).
_attempts_cap: contextvars.ContextVar[int | None] = contextvars.ContextVar("vlm_attempts_cap", default=None)


@contextlib.contextmanager
def attempts_at_most(attempts: int) -> Iterator[None]:
    """Each call made inside (in this thread or task) is attempted at most ``attempts`` times."""
    token = _attempts_cap.set(max(1, attempts))
    try:
        yield
    finally:
        _attempts_cap.reset(token)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter; ``Retry-After`` wins when the server sends it."""

    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_retry_after: float = 120.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    @property
    def max_attempts(self) -> int:
        """Attempts each call may make now: ``max_retries + 1``, or less inside ``attempts_at_most``."""
        cap = _attempts_cap.get()
        return self.max_retries + 1 if cap is None else min(cap, self.max_retries + 1)

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * (2**attempt))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def delay(self, error: VlmError, attempts: int) -> float | None:
        """Seconds to wait before sending the call again after ``attempts`` attempts, or ``None``
        to raise ``error``. Also notes on the error how many attempts were made."""
        error.attempts = attempts
        if not error.resent:
            return None
        if attempts >= self.max_attempts:
            error.exhausted = self.max_retries
            return None
        if error.retry_after is not None:
            return min(error.retry_after, self.max_retry_after)
        return self.backoff(attempts - 1)
