"""``callback_url``: when a prediction finishes, POST its record there, as the platform's webhook does.

One delivery per prediction, at its ``ready_at``; a failed delivery (no connection, or an answer
other than 2xx) is tried again after 0.5, 1 and 2 seconds, then given up. Deliveries are
tasks on the server's loop: a restart forgets the ones not yet made. The request carries the
record only, never a key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx

from .clock import now
from .records import PredictionRecord

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.5, 1.0, 2.0)
TIMEOUT = 10.0


class Callbacks:
    """Pending deliveries and their counts (``/_dev/stats`` reports ``callbacks``)."""

    def __init__(self, sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self._sleep = sleep
        self._tasks: set[asyncio.Task[None]] = set()
        self.reset_counts()

    def reset_counts(self) -> None:
        self.counts = {"scheduled": 0, "delivered": 0, "failed_attempts": 0, "given_up": 0}

    def schedule(self, record: PredictionRecord) -> None:
        """Deliver ``record`` to its ``callback_url`` once it has finished."""
        if not record.callback_url:
            return
        self.counts["scheduled"] += 1
        task = asyncio.get_running_loop().create_task(self._deliver(record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, record: PredictionRecord) -> None:
        wait = record.ready_at - now()
        if wait > 0:
            await self._sleep(wait)
        url = record.callback_url
        assert url is not None
        body = record.to_wire(max(now(), record.ready_at))
        headers = {"User-Agent": "vlm-devserver", "X-Prediction-Id": record.id}
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            for attempt, delay in enumerate((*RETRY_DELAYS, None), start=1):
                try:
                    response = await client.post(url, json=body, headers=headers)
                    if 200 <= response.status_code < 300:
                        self.counts["delivered"] += 1
                        return
                    reason = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    reason = type(exc).__name__
                self.counts["failed_attempts"] += 1
                log.warning("callback for prediction %s, attempt %d: %s", record.id, attempt, reason)
                if delay is None:
                    break
                await self._sleep(delay)
        self.counts["given_up"] += 1

    def to_wire(self) -> dict[str, int]:
        return {**self.counts, "pending": len(self._tasks)}
