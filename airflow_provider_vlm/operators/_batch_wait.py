"""Waiting for a batch: one ``PredictionTrigger`` for every waiting id, in the triggerer or on the worker.

The deadline is fixed once per try, when the trigger is built, so a triggerer restart neither
resets nor extends it. ``deferrable=False`` runs the same wait on the worker through
``wait_blocking``, the one place that does so.
"""

from __future__ import annotations

import time
from typing import Any

from airflow_provider_vlm.client import VlmClient
from airflow_provider_vlm.events import PredictionEvent
from airflow_provider_vlm.sensors._completion import wait_many_blocking
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


def wait_blocking(client: VlmClient, trigger: PredictionTrigger, *, log: Any) -> PredictionEvent:
    """``deferrable=False``: the trigger's own wait (same loop, same event), run on the worker."""
    return wait_many_blocking(
        client,
        trigger.prediction_ids,
        deadline=trigger.deadline,
        poll_interval=trigger.poll_interval,
        max_poll_interval=trigger.max_poll_interval,
        max_concurrency=trigger.max_concurrency,
        log=log,
    )
