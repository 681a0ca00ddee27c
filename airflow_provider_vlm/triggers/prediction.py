"""``PredictionTrigger``: waits in the triggerer for one or many predictions, then sends one event.

It serializes only ids, the connection id and timings, never a key or payload. The deadline is
absolute wall-clock time carried in the kwargs, so a triggerer restart neither resets nor
extends the wait. Polls back off while nothing changes; ``Retry-After`` wins.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.sdk.exceptions import AirflowNotFoundException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_vlm.client import (
    AsyncVlmClient,
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    Prediction,
    PredictionStatus,
    RateLimitError,
    VlmError,
)
from airflow_provider_vlm.client.errors import ConfigurationError
from airflow_provider_vlm.events import PredictionEvent, WaitStatus
from airflow_provider_vlm.hooks.vlm import VlmHook

#: For a wait on this many ids or more, each round first reads ``GET /predictions`` pages
#: (measured: 5,000 ids in 5 list requests instead of 5,000 GETs); smaller waits poll each id.
SWEEP_MIN_IDS = 50
SWEEP_PAGE_SIZE = 1000

#: Errors that end the wait at once: retrying cannot fix a bad key or an unknown id.
FATAL_ERRORS: tuple[type[VlmError], ...] = (AuthenticationError, NotFoundError, ConfigurationError)


class PredictionTrigger(BaseTrigger):
    def __init__(
        self,
        prediction_ids: Sequence[str],
        vlm_conn_id: str = VlmHook.default_conn_name,
        deadline: float | None = None,
        poll_interval: float = 5.0,
        max_poll_interval: float = 30.0,
        max_concurrency: int = 20,
        max_consecutive_errors: int = 10,
    ) -> None:
        super().__init__()
        if isinstance(prediction_ids, str):
            prediction_ids = [prediction_ids]
        if not prediction_ids:
            raise ValueError("PredictionTrigger needs at least one prediction id")
        if poll_interval <= 0 or max_poll_interval < poll_interval:
            raise ValueError("need 0 < poll_interval <= max_poll_interval")
        self.prediction_ids = list(prediction_ids)
        self.vlm_conn_id = vlm_conn_id
        self.deadline = deadline
        self.poll_interval = float(poll_interval)
        self.max_poll_interval = float(max_poll_interval)
        self.max_concurrency = max_concurrency
        self.max_consecutive_errors = max_consecutive_errors
        self._sweep_ok = True

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
                "max_consecutive_errors": self.max_consecutive_errors,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            client = await VlmHook(self.vlm_conn_id).get_async_client(max_connections=self.max_concurrency)
        except (VlmError, AirflowNotFoundException) as exc:
            event = self._event(WaitStatus.ERROR, f"cannot open connection {self.vlm_conn_id!r}: {exc}", {})
        else:
            async with client:
                event = await self.wait(client)
        yield TriggerEvent(event.to_dict())

    # --- the wait ------------------------------------------------------------------------------

    async def wait(self, client: AsyncVlmClient) -> PredictionEvent:
        """Poll until every id is terminal, the deadline passes or polling cannot go on.

        Public so that a blocking caller (``GenerateBatchOperator(deferrable=False)``) runs the
        very same loop on the worker.
        """
        statuses: dict[str, Prediction] = {}
        waiting = list(self.prediction_ids)
        interval = self.poll_interval
        failed_rounds = 0
        while True:
            fresh, errors = await self._poll(client, waiting)
            fatal = next((e for e in errors if isinstance(e, FATAL_ERRORS)), None)
            if fatal is not None:
                return self._event(WaitStatus.ERROR, str(fatal), statuses)
            changed = self._record(statuses, fresh)
            waiting = [pid for pid in waiting if not (pid in statuses and statuses[pid].status.is_terminal)]
            if not waiting:
                return self._finished(statuses)

            # Only a round in which nothing could be read counts against the cap: a few failed
            # requests among thousands are retried next round, not a reason to give up.
            failed_rounds = failed_rounds + 1 if errors and not fresh else 0
            if failed_rounds >= self.max_consecutive_errors:
                return self._event(
                    WaitStatus.ERROR,
                    f"{failed_rounds} polls in a row failed; last error: {errors[-1]}",
                    statuses,
                )
            now = time.time()
            if self.deadline is not None and now >= self.deadline:
                return self._event(
                    WaitStatus.TIMEOUT,
                    f"{len(waiting)} of {len(self.prediction_ids)} predictions still waiting at the deadline",
                    statuses,
                )
            interval = self.poll_interval if changed else min(interval * 1.5, self.max_poll_interval)
            retry_after = max(
                (e.retry_after or 0.0 for e in errors if isinstance(e, RateLimitError)), default=0.0
            )
            delay = max(interval, retry_after)
            if self.deadline is not None:
                delay = max(0.0, min(delay, self.deadline - now))
            await asyncio.sleep(delay)

    async def _poll(
        self, client: AsyncVlmClient, waiting: list[str]
    ) -> tuple[list[Prediction], list[VlmError]]:
        """One round: a list sweep for big batches, then per-id GETs for whatever it did not find."""
        found: list[Prediction] = []
        errors: list[VlmError] = []
        rest = waiting
        if self._sweep_ok and len(self.prediction_ids) >= SWEEP_MIN_IDS:
            try:
                found = list((await client.find_predictions(waiting, SWEEP_PAGE_SIZE)).values())
            except InvalidRequestError:  # a server that refuses our page size: per-id GETs from now on
                self._sweep_ok = False
            except VlmError as exc:  # the list route is an optimisation: fall back to per-id GETs
                errors.append(exc)
            seen = {p.id for p in found}
            rest = [pid for pid in waiting if pid not in seen]
        semaphore = asyncio.Semaphore(self.max_concurrency)

        async def fetch(prediction_id: str) -> Prediction | VlmError:
            async with semaphore:
                try:
                    return await client.get_prediction(prediction_id)
                except VlmError as exc:
                    return exc

        for result in await asyncio.gather(*(fetch(pid) for pid in rest)):
            if isinstance(result, VlmError):
                errors.append(result)
            else:
                found.append(result)
        return found, errors

    def _record(self, statuses: dict[str, Prediction], fresh: list[Prediction]) -> bool:
        """Store fresh statuses; log changes (one id) or progress (many). True if anything moved."""
        changed = False
        for prediction in fresh:
            before = statuses.get(prediction.id)
            if before is None or before.status is not prediction.status:
                changed = True
                if prediction.status is PredictionStatus.PAUSED:
                    self.log.warning("prediction %s is paused on the server; still waiting", prediction.id)
                if len(self.prediction_ids) == 1:
                    self.log.info(
                        "prediction %s: %s -> %s",
                        prediction.id,
                        before.status.value if before else "submitted",
                        prediction.status.value,
                    )
            statuses[prediction.id] = prediction
        if changed and len(self.prediction_ids) > 1:
            counts = Counter(p.status for p in statuses.values())
            done = counts[PredictionStatus.COMPLETED] + counts[PredictionStatus.FAILED]
            self.log.info(
                "%s/%s complete, %s failed",
                f"{done:,}",
                f"{len(self.prediction_ids):,}",
                f"{counts[PredictionStatus.FAILED]:,}",
            )
        return changed

    def _finished(self, statuses: dict[str, Prediction]) -> PredictionEvent:
        failed = [p for p in statuses.values() if p.status is PredictionStatus.FAILED]
        total = len(self.prediction_ids)
        if not failed:
            what = f"prediction {self.prediction_ids[0]}" if total == 1 else f"all {total} predictions"
            return self._event(WaitStatus.SUCCESS, f"{what} completed", statuses)
        first = failed[0]
        if total == 1:
            message = f"prediction {first.id} failed: {first.error_message}"
        else:
            message = f"{len(failed)} of {total} predictions failed; first: {first.id}: {first.error_message}"
        return self._event(WaitStatus.FAILED, message, statuses)

    def _event(self, status: WaitStatus, message: str, statuses: dict[str, Prediction]) -> PredictionEvent:
        counts = Counter(p.status.value for p in statuses.values())
        unknown = len(self.prediction_ids) - len(statuses)
        if unknown:
            counts["unknown"] = unknown
        return PredictionEvent(status, self.prediction_ids, message, dict(counts))
