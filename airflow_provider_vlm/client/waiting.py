"""Waiting for many predictions at once: the one wait loop, for callers beyond the SDK's surface.

``client.predictions.wait`` waits for one id and raises when time runs out, as the SDK does. A
scheduler needs more: many ids, an absolute wall-clock deadline that survives a restart, a
backoff policy, and an outcome that says how the wait ended instead of raising. These functions
run the same loop as ``predictions.wait`` (``_polling.wait_for``) and return a ``WaitOutcome``:

- ``wait_for_predictions`` on a blocking ``VlmClient`` (reads one after the other);
- ``async_wait_for_predictions`` on an ``AsyncVlmClient``, sharing each poll round with every
  other wait on the same client in this process: a thousand waits on one client cost one round
  of requests. ``shared_async_client`` leases such a client, one per settings and event loop.

The Airflow layer (hook, trigger, operators) waits only through this module.
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow_provider_vlm.client._polling import (
    DEFAULT_UNREACHABLE_TIMEOUT,
    SWEEP_MIN_IDS,
    SWEEP_PAGE_SIZE,
    Logger,
    PollPolicy,
    WaitOutcome,
    WaitStatus,
    wait_for,
)
from airflow_provider_vlm.client._shared import run_coalesced, shared_async_client, shared_client_count
from airflow_provider_vlm.client.async_ import AsyncVlmClient
from airflow_provider_vlm.client.sync import VlmClient

__all__ = [
    "DEFAULT_UNREACHABLE_TIMEOUT",
    "SWEEP_MIN_IDS",
    "SWEEP_PAGE_SIZE",
    "Logger",
    "PollPolicy",
    "WaitOutcome",
    "WaitStatus",
    "async_wait_for_predictions",
    "shared_async_client",
    "shared_client_count",
    "wait_for_predictions",
]


def wait_for_predictions(
    client: VlmClient,
    prediction_ids: Sequence[str],
    *,
    deadline: float | None,
    policy: PollPolicy | None = None,
    concurrency: int = 20,
    logger: Logger | None = None,
) -> WaitOutcome:
    """Poll until every id is terminal, ``deadline`` (epoch seconds) passes, or waiting must stop.

    Never raises for what the server answers: the outcome's ``status`` says how the wait ended
    (``success``, ``failed``, ``timeout``, ``error``) and ``error`` holds the error that ended it.
    ``concurrency`` matters only to the async driver; here reads run one after the other.
    """
    return client._run(
        wait_for(prediction_ids, deadline=deadline, policy=policy, concurrency=concurrency, logger=logger)
    )


async def async_wait_for_predictions(
    client: AsyncVlmClient,
    prediction_ids: Sequence[str],
    *,
    deadline: float | None,
    policy: PollPolicy | None = None,
    concurrency: int = 20,
    logger: Logger | None = None,
) -> WaitOutcome:
    """``wait_for_predictions`` on the async client, its poll rounds shared with every other wait
    on ``client`` (best with a client from ``shared_async_client``)."""
    return await run_coalesced(
        client,
        wait_for(
            prediction_ids,
            deadline=deadline,
            policy=policy,
            concurrency=concurrency,
            logger=logger,
            coalesce=True,
        ),
    )
