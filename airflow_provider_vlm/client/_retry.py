"""The one retry policy of both clients.

Reads (and calls without side effects) retry connection errors, timeouts, 429 and 5xx. A call
that creates a billed prediction retries only when the request provably never reached the server
(connect error) or the server refused it (429, 503 with ``Retry-After``): anything else after
sending may have created a prediction, so it is raised for the caller to settle.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field

import httpx

#: Transport errors raised before a single byte of the request could reach the server.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


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

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * (2**attempt))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def delay_after_response(self, response: httpx.Response, attempt: int, *, creates: bool) -> float | None:
        """Seconds to wait before retrying, or ``None`` to stop and hand the reply back."""
        status = response.status_code
        if attempt >= self.max_retries or status not in RETRYABLE_STATUS:
            return None
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if creates and not (status == 429 or (status == 503 and retry_after is not None)):
            return None
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return self.backoff(attempt)

    def delay_after_error(self, error: httpx.TransportError, attempt: int, *, creates: bool) -> float | None:
        if attempt >= self.max_retries:
            return None
        if creates and not isinstance(error, NOT_SENT_ERRORS):
            return None
        return self.backoff(attempt)
