"""The provider's metrics: names, tags and the calls that emit them, through Airflow's own stats.

They go wherever the deployment sends Airflow's metrics (StatsD, OpenTelemetry), under its
``[metrics]`` prefix (``airflow.`` by default). Every metric is emitted by the task (never by the
triggerer), once per event, so a deferral or a resume counts nothing twice. The table in
``docs/metrics.md`` lists the same names; a test holds the two equal.

Tags (``domain``, ``media``, ``operator``) reach backends that take tags (OpenTelemetry, DogStatsD,
StatsD with InfluxDB tags); plain StatsD keeps the name only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_vlm.client import Prediction, PredictionStatus

SUBMITTED = "vlm.predictions.submitted"
REATTACHED = "vlm.predictions.reattached"
COMPLETED = "vlm.predictions.completed"
FAILED = "vlm.predictions.failed"
CREDITS = "vlm.credits_used"
WAIT = "vlm.prediction.wait"
BATCH_SIZE = "vlm.batch.size"

#: Every metric: (name, kind, meaning). ``docs/metrics.md`` shows this table.
METRICS: tuple[tuple[str, str, str], ...] = (
    (SUBMITTED, "counter", "predictions created (a lost answer's resubmission counts again)"),
    (REATTACHED, "counter", "a retry found its earlier prediction and waited for it or returned it"),
    (COMPLETED, "counter", "predictions that ended completed"),
    (FAILED, "counter", "predictions that ended failed (on the server, or their response failed validation)"),
    (CREDITS, "counter", "credits the server reported for finished predictions"),
    (WAIT, "timer", "server time from a prediction's creation to its terminal status (ms)"),
    (BATCH_SIZE, "gauge", "inputs of one GenerateBatchOperator try"),
)


def _stats() -> Any:
    from airflow_provider_vlm._compat import stats

    return stats()


def _emit(method: str, name: str, *args: Any, tags: dict[str, str]) -> None:
    """Airflow's stats backend sends UDP datagrams and drops what it cannot send."""
    getattr(_stats(), method)(name, *args, tags=tags)


def tags_for(domain: str, media: str, operator: str) -> dict[str, str]:
    return {"domain": domain, "media": media, "operator": operator}


def submitted(tags: dict[str, str], count: int = 1) -> None:
    if count:
        _emit("incr", SUBMITTED, count, tags=tags)


def reattached(tags: dict[str, str], count: int = 1) -> None:
    if count:
        _emit("incr", REATTACHED, count, tags=tags)


def batch_size(tags: dict[str, str], size: int) -> None:
    _emit("gauge", BATCH_SIZE, size, tags=tags)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def finished(tags: dict[str, str], predictions: Iterable[Prediction], failed_ids: Iterable[str] = ()) -> None:
    """Counters, credits and wait times of terminal predictions (``failed_ids``: judged failed here)."""
    judged_failed = set(failed_ids)
    completed = failed = 0
    credits = 0.0
    for prediction in predictions:
        if prediction.status is PredictionStatus.FAILED or prediction.id in judged_failed:
            failed += 1
        elif prediction.status.is_success:
            completed += 1
        credits += float(prediction.usage.credits_used or 0)
        if prediction.created_at is not None and prediction.completed_at is not None:
            waited = _aware(prediction.completed_at) - _aware(prediction.created_at)
            _emit("timing", WAIT, max(waited, timedelta(0)), tags=tags)
    if completed:
        _emit("incr", COMPLETED, completed, tags=tags)
    if failed:
        _emit("incr", FAILED, failed, tags=tags)
    if credits:
        _emit("incr", CREDITS, int(credits) if credits.is_integer() else credits, tags=tags)
