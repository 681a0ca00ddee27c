"""The one line a resumed try logs when its wait is over.

A try that resumes after the trigger fired starts a new log section; without this line it would
say nothing of its own about what it waited for. The line holds what a reader of the task log
asks first: which prediction, how it ended, how long it took and what it cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from airflow_provider_vlm.client import Prediction, duration_text

__all__ = ["credits_text", "duration_text", "finished_wait_line", "log_finished_wait", "wait_started_at"]


def _aware(moment: datetime) -> datetime:
    """Naive times from a server are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (_aware(end) - _aware(start)).total_seconds())


def credits_text(credits: float | None) -> str:
    if credits is None:
        return "credits not reported"
    shown = int(credits) if float(credits).is_integer() else round(credits, 2)
    return f"{shown} credit" if shown == 1 else f"{shown} credits"


def finished_wait_line(
    prediction: Prediction,
    wait_started: datetime | None,
    *,
    now: datetime | None = None,
    tier: str | None = None,
) -> str:
    """E.g. ``prediction 6f1c… completed after 42 s, waited 40 s, 3 credits (flex)``.

    "after" is the server's own time for the prediction (created to completed), "waited" is the
    time since ``wait_started`` (when the try began waiting, before it deferred); each is left out
    when unknown. ``tier`` is the tier the prediction was requested at, when the caller knows it.
    """
    head = f"prediction {prediction.id} {prediction.status.value}"
    on_server = _seconds_between(prediction.created_at, prediction.completed_at)
    if on_server is not None:
        head += f" after {duration_text(on_server)}"
    parts = [head]
    waited = _seconds_between(wait_started, now or datetime.now(timezone.utc))
    if waited is not None:
        parts.append(f"waited {duration_text(waited)}")
    credits = credits_text(prediction.usage.credits_used)
    parts.append(f"{credits} ({tier})" if tier and prediction.usage.credits_used is not None else credits)
    return ", ".join(parts)


def wait_started_at(context: Mapping[str, Any], event: Mapping[str, Any] | None = None) -> datetime | None:
    """When this try began waiting: the event's ``waiting_since`` (set before deferring), else the
    try's start date (which a resume resets on some Airflow lines), else None."""
    since = (event or {}).get("waiting_since")
    if isinstance(since, (int, float)) and not isinstance(since, bool):
        return datetime.fromtimestamp(since, tz=timezone.utc)
    started = getattr(context.get("ti"), "start_date", None)
    return started if isinstance(started, datetime) else None


def log_finished_wait(
    log: Any,
    prediction: Prediction,
    context: Mapping[str, Any],
    event: Mapping[str, Any] | None = None,
    *,
    tier: str | None = None,
) -> None:
    """The call operators and sensors make in ``execute_complete``, before judging the outcome."""
    log.info("%s", finished_wait_line(prediction, wait_started_at(context, event), tier=tier))
