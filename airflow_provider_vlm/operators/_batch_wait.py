"""Waiting for a batch: one ``PredictionTrigger`` for every waiting id, in the triggerer or on the worker.

The deadline is fixed once per try, when the trigger is built, so a triggerer restart neither
resets nor extends it. ``deferrable=False`` runs the same wait on the worker through
``wait_blocking``, the one place that does so.
"""

from __future__ import annotations

import asyncio
import time

from airflow_provider_vlm.client import AsyncVlmClient
from airflow_provider_vlm.events import PredictionEvent
from airflow_provider_vlm.hooks.vlm import VlmHook
from airflow_provider_vlm.triggers.prediction import PredictionTrigger


def batch_trigger(
    prediction_ids: list[str],
    *,
    vlm_conn_id: str,
    timeout: float | None,
    poll_interval: float,
    max_poll_interval: float,
    max_concurrency: int,
) -> PredictionTrigger:
    """One trigger for every waiting id; its absolute deadline is fixed now."""
    return PredictionTrigger(
        prediction_ids=prediction_ids,
        vlm_conn_id=vlm_conn_id,
        deadline=None if timeout is None else time.time() + timeout,
        poll_interval=poll_interval,
        max_poll_interval=max_poll_interval,
        max_concurrency=max_concurrency,
    )


def wait_blocking(hook: VlmHook, trigger: PredictionTrigger, *, max_connections: int) -> PredictionEvent:
    """``deferrable=False``: the trigger's own wait (same backoff, same event), run on the worker."""
    return asyncio.run(_wait(hook, trigger, max_connections))


async def _wait(hook: VlmHook, trigger: PredictionTrigger, max_connections: int) -> PredictionEvent:
    s = hook.client_settings()
    async with AsyncVlmClient(
        s.api_key,
        s.base_url,
        timeout=s.timeout,
        max_retries=s.max_retries,
        verify=s.verify,
        max_connections=max_connections,
    ) as client:
        return await trigger.wait(client)
