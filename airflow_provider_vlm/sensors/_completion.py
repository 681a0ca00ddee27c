"""How a wait ends, shared by ``GenerateOperator`` and ``PredictionSensor``.

One place turns a terminal prediction or a trigger event into the task's outcome: the record
(XCom ``return_value``) or a typed error the ``retry_policy`` can act on. The event only carries
ids and a message, so the result itself is fetched here, on the worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from airflow_provider_vlm.client import (
    Prediction,
    PredictionFailedError,
    PredictionStatus,
    PredictionTimeoutError,
    RateLimitError,
    VlmClient,
    VlmError,
)
from airflow_provider_vlm.client.errors import TRANSIENT_ERRORS
from airflow_provider_vlm.events import PredictionEvent, WaitStatus
from airflow_provider_vlm.validation import validate_against_model, validate_against_schema

log = logging.getLogger(__name__)


class PredictionWaitError(VlmError):
    """The wait could not go on (the server kept failing) while the prediction was not finished.

    A retry re-attaches to the same prediction; nothing is submitted again.
    """


@dataclass(frozen=True)
class ResponseCheck:
    """What a completed response is validated against: nothing, the domain's schema, or a model."""

    autocast: bool = False
    response_model: type[BaseModel] | None = None

    def __call__(self, client: VlmClient, prediction: Prediction, domain: str | None) -> None:
        if self.response_model is not None:
            validate_against_model(prediction.response, self.response_model, prediction_id=prediction.id)
        elif self.autocast:
            name = domain or prediction.domain
            if not name:
                raise VlmError(f"autocast: prediction {prediction.id} has no domain to fetch a schema for")
            schema = client.get_schema(name).json_schema
            validate_against_schema(
                prediction.response, schema, prediction_id=prediction.id, source=f"{name} schema"
            )


def outcome(
    client: VlmClient, prediction: Prediction, check: ResponseCheck, domain: str | None
) -> dict[str, Any]:
    """The record of a terminal prediction, or ``PredictionFailedError`` with the server's message."""
    if prediction.status is PredictionStatus.FAILED:
        raise PredictionFailedError(prediction.id, prediction.error_message)
    if not prediction.status.is_success:
        raise PredictionWaitError(f"prediction {prediction.id} is {prediction.status.value}, not finished")
    check(client, prediction, domain)
    return prediction.record()


def settle_event(client: VlmClient, event: Mapping[str, Any], timeout: float | None) -> Prediction:
    """The terminal prediction an event reports, or the typed error it stands for.

    ``error`` events are settled by asking the server again from here: a rejected key or an
    unknown id raises its own typed error, a prediction that finished meanwhile is returned, and
    one still waiting raises ``PredictionWaitError`` (a retry re-attaches).
    """
    ev = PredictionEvent.from_dict(event)
    pid = ev.prediction_ids[0]
    if ev.status is WaitStatus.TIMEOUT:
        last = next((status for status, n in ev.counts.items() if n and status != "unknown"), None)
        raise PredictionTimeoutError(pid, timeout or 0.0, last)
    prediction = client.get_prediction(pid)
    if prediction.status.is_terminal:
        return prediction
    if ev.status is WaitStatus.ERROR:
        raise PredictionWaitError(f"waiting for prediction {pid} failed: {ev.message}")
    raise PredictionWaitError(
        f"the trigger reported {ev.status.value} but prediction {pid} is {prediction.status.value}"
    )


def wait_blocking(
    client: VlmClient,
    prediction_id: str,
    *,
    deadline: float | None,
    timeout: float | None,
    poll_interval: float,
    max_poll_interval: float,
    max_consecutive_errors: int = 10,
) -> Prediction:
    """Poll in the worker (``deferrable=False``) with the trigger's backoff and error tolerance."""
    interval = poll_interval
    last: PredictionStatus | None = None
    errors = 0
    while True:
        delay_floor = 0.0
        try:
            prediction = client.get_prediction(prediction_id)
        except TRANSIENT_ERRORS as exc:
            errors += 1
            if errors >= max_consecutive_errors:
                raise
            log.warning("polling prediction %s failed (%d in a row): %s", prediction_id, errors, exc)
            if isinstance(exc, RateLimitError) and exc.retry_after:
                delay_floor = exc.retry_after
        else:
            errors = 0
            if prediction.status.is_terminal:
                return prediction
            if prediction.status is not last:
                if prediction.status is PredictionStatus.PAUSED:
                    log.warning("prediction %s is paused on the server; still waiting", prediction_id)
                log.info("prediction %s is %s", prediction_id, prediction.status.value)
                interval = poll_interval
            else:
                interval = min(interval * 1.5, max_poll_interval)
            last = prediction.status
        now = time.time()
        if deadline is not None and now >= deadline:
            raise PredictionTimeoutError(prediction_id, timeout or 0.0, last.value if last else None)
        delay = max(interval, delay_floor)
        if deadline is not None:
            delay = min(delay, deadline - now)
        time.sleep(max(delay, 0.0))
