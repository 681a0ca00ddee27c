"""How a wait ends, shared by ``GenerateOperator`` and ``PredictionSensor``.

One place turns a terminal prediction or a trigger event into the task's outcome: the record
(XCom ``return_value``) or a typed error the ``retry_policy`` can act on. The event only carries
ids and a message, so the result itself is fetched here, on the worker.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_vlm.client import (
    Prediction,
    PredictionFailedError,
    PredictionStatus,
    PredictionTimeoutError,
    VlmClient,
    VlmError,
)
from airflow_provider_vlm.client._polling import DEFAULT_UNREACHABLE_TIMEOUT, PollPolicy, wait_for
from airflow_provider_vlm.events import PredictionEvent, WaitStatus
from airflow_provider_vlm.validation import ResponseValidator

log = logging.getLogger(__name__)


class PredictionWaitError(VlmError):
    """The wait could not go on (no deadline and the server unreachable for ``unreachable_timeout``)
    while the prediction was not finished.

    A retry re-attaches to the same prediction; nothing is submitted again.
    """


def outcome(
    client: VlmClient, prediction: Prediction, check: ResponseValidator | None = None
) -> dict[str, Any]:
    """The record of a terminal prediction, or the typed error it stands for.

    ``failed`` raises ``PredictionFailedError`` with the server's message; a completed response is
    judged by ``check`` (the operators' and the batch's one validation path) when given.
    """
    if prediction.status is PredictionStatus.FAILED:
        raise PredictionFailedError(prediction.id, prediction.error_message)
    if not prediction.status.is_success:
        raise PredictionWaitError(f"prediction {prediction.id} is {prediction.status.value}, not finished")
    if check is not None:
        check(client, prediction)
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
    prediction = client.predictions.get(pid)
    if prediction.status.is_terminal:
        return prediction
    if ev.status is WaitStatus.ERROR:
        raise PredictionWaitError(f"waiting for prediction {pid} failed: {ev.message}")
    raise PredictionWaitError(
        f"the trigger reported {ev.status.value} but prediction {pid} is {prediction.status.value}"
    )


def first_check(client: VlmClient, prediction_id: str, *, log: Any = log) -> Prediction | None:
    """The status right after submitting (a finished prediction never defers), or ``None``.

    A transient error (an outage that starts at submit time) is not the task's end: the caller
    goes on to wait, and the wait rides the outage out until its deadline. Other errors raise.
    """
    try:
        return client.predictions.get(prediction_id)
    except VlmError as exc:
        if not exc.transient:
            raise
        log.warning("checking prediction %s failed (%s); waiting for it anyway", prediction_id, exc)
        return None


def _policy(poll_interval: float, max_poll_interval: float, unreachable_timeout: float | None) -> PollPolicy:
    return PollPolicy(
        first=poll_interval,
        cap=max(max_poll_interval, poll_interval),
        unreachable_timeout=unreachable_timeout or DEFAULT_UNREACHABLE_TIMEOUT,
    )


def wait_blocking(
    client: VlmClient,
    prediction_id: str,
    *,
    deadline: float | None,
    timeout: float | None,
    poll_interval: float,
    max_poll_interval: float,
    unreachable_timeout: float | None = None,
    log: Any = log,
) -> Prediction:
    """Wait in the worker (``deferrable=False``): the trigger's loop, run by the sync driver.

    Returns the terminal prediction; raises ``PredictionTimeoutError`` at the deadline, the typed
    error that ended the wait (bad key, unknown id), or ``PredictionWaitError`` when a wait with no
    deadline found the server unreachable for ``unreachable_timeout``. Transient errors are ridden
    out until the deadline.
    """
    outcome = client._run(
        wait_for(
            [prediction_id],
            deadline=deadline,
            policy=_policy(poll_interval, max_poll_interval, unreachable_timeout),
            logger=log,
        )
    )
    if outcome.status in (WaitStatus.SUCCESS, WaitStatus.FAILED):
        return outcome.predictions[prediction_id]
    if outcome.status is WaitStatus.TIMEOUT:
        raise PredictionTimeoutError(prediction_id, timeout or 0.0, outcome.last_status(prediction_id))
    if outcome.error is not None and not outcome.error.transient:
        raise outcome.error
    raise PredictionWaitError(f"waiting for prediction {prediction_id} failed: {outcome.message}")


def wait_many_blocking(
    client: VlmClient,
    prediction_ids: Sequence[str],
    *,
    deadline: float | None,
    poll_interval: float,
    max_poll_interval: float,
    max_concurrency: int = 20,
    unreachable_timeout: float | None = None,
    log: Any = log,
) -> PredictionEvent:
    """Wait for many predictions in the worker and return the event a trigger would have sent.

    For ``GenerateBatchOperator(deferrable=False)``: the same loop, sweep and event as
    ``PredictionTrigger``, on the task's blocking client (reads one after the other; big waits
    read list pages instead of one request per id).
    """
    outcome = client._run(
        wait_for(
            prediction_ids,
            deadline=deadline,
            policy=_policy(poll_interval, max_poll_interval, unreachable_timeout),
            concurrency=max_concurrency,
            logger=log,
        )
    )
    return PredictionEvent.from_outcome(outcome)
