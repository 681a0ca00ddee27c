"""``PredictionTrigger``: waits in the triggerer for one or many predictions, then sends one event.

It serializes only ids, the connection id and timings, never a key or payload. The deadline is
absolute wall-clock time carried in the kwargs, so a triggerer restart neither resets nor
extends the wait. The waiting itself is the client's one wait loop (``client.waiting``): the
same backoff, error tolerance and sweep as every blocking waiter.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_vlm._compat import AirflowNotFoundException
from airflow_provider_vlm.client import AsyncVlmClient, VlmError
from airflow_provider_vlm.client.waiting import (
    DEFAULT_UNREACHABLE_TIMEOUT,
    SWEEP_MIN_IDS,
    SWEEP_PAGE_SIZE,
    PollPolicy,
    async_wait_for_predictions,
    shared_async_client,
)
from airflow_provider_vlm.events import PredictionEvent, WaitStatus
from airflow_provider_vlm.hooks.vlm import VlmHook
from airflow_provider_vlm.stopping import still_running

__all__ = ["SWEEP_MIN_IDS", "SWEEP_PAGE_SIZE", "PredictionTrigger"]


class PredictionTrigger(BaseTrigger):
    """Wait for ``prediction_ids`` to end; one event ``{status, prediction_ids, message, counts}``.

    :param prediction_ids: the predictions to wait for (one id or many).
    :param vlm_conn_id: the VLM Run connection; read in the triggerer, never serialized.
    :param deadline: absolute end of the wait in epoch seconds, or ``None`` for no deadline.
    :param poll_interval: the first interval between polls, and again after any status change.
    :param max_poll_interval: the cap of the interval, which grows 1.5x while nothing changes.
    :param max_concurrency: per-id status reads in flight at once.
    :param unreachable_timeout: with no deadline, how long polls may fail in a row (server down,
        5xx, 429) before the event is ``error``; with a deadline, outages are ridden out until it.
    :param waiting_since: when the task began waiting (epoch seconds), handed back in the event so
        the resumed task logs how long it really waited.
    :param fire_after: epoch seconds before which no event is sent (the task's deferral plus
        ``DEFER_HOLD``): a trigger that fires within seconds of the deferral meets Airflow's defer
        race. ``None``: send at once.
    :param max_consecutive_errors: ignored; accepted so that triggers serialized by earlier
        versions still load. Transient errors no longer end a wait before its deadline.
    """

    def __init__(
        self,
        prediction_ids: Sequence[str],
        vlm_conn_id: str = VlmHook.default_conn_name,
        deadline: float | None = None,
        poll_interval: float = 5.0,
        max_poll_interval: float = 30.0,
        max_concurrency: int = 20,
        unreachable_timeout: float = DEFAULT_UNREACHABLE_TIMEOUT,
        waiting_since: float | None = None,
        fire_after: float | None = None,
        max_consecutive_errors: int | None = None,
    ) -> None:
        super().__init__()
        if isinstance(prediction_ids, str):
            prediction_ids = [prediction_ids]
        if not prediction_ids:
            raise ValueError("PredictionTrigger needs at least one prediction id")
        if poll_interval <= 0 or max_poll_interval < poll_interval:
            raise ValueError("need 0 < poll_interval <= max_poll_interval")
        if unreachable_timeout <= 0:
            raise ValueError("need unreachable_timeout > 0")
        self.prediction_ids = list(prediction_ids)
        self.vlm_conn_id = vlm_conn_id
        self.deadline = deadline
        self.poll_interval = float(poll_interval)
        self.max_poll_interval = float(max_poll_interval)
        self.max_concurrency = max_concurrency
        self.unreachable_timeout = float(unreachable_timeout)
        self.waiting_since = waiting_since
        self.fire_after = fire_after

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "prediction_ids": self.prediction_ids,
                "vlm_conn_id": self.vlm_conn_id,
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
                "max_poll_interval": self.max_poll_interval,
                "max_concurrency": self.max_concurrency,
                "unreachable_timeout": self.unreachable_timeout,
                "waiting_since": self.waiting_since,
                "fire_after": self.fire_after,
            },
        )

    @property
    def policy(self) -> PollPolicy:
        return PollPolicy(
            first=self.poll_interval,
            cap=self.max_poll_interval,
            unreachable_timeout=self.unreachable_timeout,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            settings = await VlmHook(self.vlm_conn_id).aclient_settings()
        except (VlmError, AirflowNotFoundException) as exc:
            event = PredictionEvent(
                WaitStatus.ERROR,
                self.prediction_ids,
                f"cannot open connection {self.vlm_conn_id!r}: {exc}",
                {"unknown": len(self.prediction_ids)},
                self.waiting_since,
            )
        else:
            async with shared_async_client(settings, self.max_concurrency) as client:
                event = await self.wait(client)
        if self.fire_after is not None:  # out of Airflow's defer race window (see DEFER_HOLD)
            await asyncio.sleep(max(0.0, self.fire_after - time.time()))
        yield TriggerEvent(event.to_dict())

    async def wait(self, client: AsyncVlmClient) -> PredictionEvent:
        """The one wait loop on a shared ``client``, as this trigger's event.

        Poll rounds are shared with every other wait on the same client in this process.
        """
        outcome = await async_wait_for_predictions(
            client,
            self.prediction_ids,
            deadline=self.deadline,
            policy=self.policy,
            concurrency=self.max_concurrency,
            logger=self.log,
        )
        return PredictionEvent.from_outcome(outcome, self.waiting_since)

    async def on_kill(self) -> None:
        """Airflow >= 3.3 calls this when a user marks the deferred task failed or succeeded, or clears it.

        VLM Run cannot cancel a prediction, so nothing is sent: the log (the triggerer's and the
        task's) says what keeps running. A triggerer restart or a deferral timeout does not call
        this, so a wait that resumes elsewhere is never reported as stopped. Lower Airflow lines
        never call it.
        """
        self.log.warning(
            "%s",
            still_running(
                self.prediction_ids,
                stopped="the deferred task was stopped (marked failed or succeeded, or cleared)",
                next_try=False,
            ),
        )
