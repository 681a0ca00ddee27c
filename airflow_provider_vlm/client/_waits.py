"""The SDK's single-prediction waits (``client.predictions.wait``), run on the one wait loop.

They sit apart from ``_ops`` so that the loop (``_polling``) can read predictions through
``_ops`` while nothing in ``_ops`` reaches back into it: the imports run one way.
"""

from __future__ import annotations

from airflow_provider_vlm.client._core import Now, Operation
from airflow_provider_vlm.client._inputs import check_id
from airflow_provider_vlm.client._polling import PollPolicy, WaitStatus, wait_for
from airflow_provider_vlm.client.errors import PredictionFailedError, PredictionTimeoutError, VlmInputError
from airflow_provider_vlm.client.models import Prediction, PredictionStatus


def wait(
    prediction_id: str,
    timeout: float = 60.0,
    sleep: float = 1.0,
    *,
    backoff: float = 1.0,
    max_sleep: float = 30.0,
    raise_on_failure: bool = True,
) -> Operation[Prediction]:
    """Poll until the prediction is terminal, with the one wait loop (``_polling.wait_for``).

    Polls every ``sleep`` seconds, times ``backoff`` while nothing changes, at most ``max_sleep``.
    Transient errors (no reply, 5xx, 429) are ridden out until ``timeout``, which then raises
    ``PredictionTimeoutError`` (the prediction keeps running on the server). A bad key or an
    unknown id raises its typed error at once. Unlike the SDK, a ``failed`` prediction stops the
    wait at once: it raises ``PredictionFailedError``, or is returned with
    ``raise_on_failure=False``.
    """
    if timeout < 0 or sleep <= 0 or backoff < 1:
        raise VlmInputError(f"need timeout >= 0, sleep > 0, backoff >= 1; got {timeout}, {sleep}, {backoff}")
    check_id(prediction_id, name="prediction_id")
    started = yield Now()
    policy = PollPolicy(first=sleep, factor=backoff, cap=max(max_sleep, sleep))
    outcome = yield from wait_for([prediction_id], deadline=started + timeout, policy=policy)
    if outcome.status is WaitStatus.TIMEOUT:
        raise PredictionTimeoutError(prediction_id, timeout, outcome.last_status(prediction_id))
    if outcome.status is WaitStatus.ERROR:
        assert outcome.error is not None  # a wait with a deadline ends with error only on one
        raise outcome.error
    prediction = outcome.predictions[prediction_id]
    if prediction.status is PredictionStatus.FAILED and raise_on_failure:
        raise PredictionFailedError(prediction.id, prediction.error_message, prediction)
    return prediction


def wait_settled(prediction_id: str, timeout: float = 60.0, sleep: float = 1.0) -> Operation[Prediction]:
    """The documented ``predictions.wait``: back when ``completed`` or ``failed``; out of time raises."""
    return (yield from wait(prediction_id, timeout, sleep, raise_on_failure=False))
