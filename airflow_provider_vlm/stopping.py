"""What stopping a task does to its predictions: nothing, because VLM Run cannot cancel one.

The API has no call that cancels a prediction, so marking a task failed, clearing it, or a
timeout only stops the *wait*: the predictions run to the end on the server and are billed.
Every place that notices a stop (the trigger's ``on_kill``, the operators' ``on_kill`` and
their resume after a deferral timeout) logs the one line built here, so users read the same
words whichever way the task was stopped. Nothing here touches the durable record: it stays as
the last try left it, and the next try decides from it (``durable.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

#: Ids named in one stop line; the rest are counted (a batch may wait on thousands).
SHOWN_IDS = 5

#: ``next_method`` of a task the scheduler resumes only to fail it (deferral timeout, trigger
#: failure): Airflow's own value (``airflow.sdk.bases.operator.TRIGGER_FAIL_REPR``).
TRIGGER_FAIL = "__fail__"

NO_CANCEL = "VLM Run has no call that cancels a prediction"
#: What the provider's operators do next, from their durable record (not said by the bare trigger,
#: which also serves the sensor and users' own operators).
NEXT_TRY = (
    "The task's record keeps the ids: a retry re-attaches to them; a Clear that starts a new clear "
    "number submits fresh ones"
)
DOCS = "(docs: Stopping a task)"


def named(prediction_ids: Sequence[str]) -> str:
    """``"prediction p1"`` or ``"3 predictions (p1, p2, p3)"``, at most ``SHOWN_IDS`` ids written out."""
    ids = list(prediction_ids)
    if len(ids) == 1:
        return f"prediction {ids[0]}"
    shown = ", ".join(ids[:SHOWN_IDS])
    more = f", and {len(ids) - SHOWN_IDS:,} more" if len(ids) > SHOWN_IDS else ""
    return f"{len(ids):,} predictions ({shown}{more})"


def still_running(prediction_ids: Sequence[str], *, stopped: str, next_try: bool = True) -> str:
    """The log line of a stopped wait: what was stopped, what keeps running, what happens next.

    ``next_try`` adds what the provider's operators do on their next try (re-attach or, after a
    Clear, submit fresh); the trigger leaves it out, since it also waits for others' predictions.
    """
    afterwards = f"{NO_CANCEL}. {NEXT_TRY} {DOCS}" if next_try else f"{NO_CANCEL} {DOCS}"
    if not prediction_ids:
        return (
            f"{stopped}: any prediction this try already created keeps running on the server and is "
            f"billed. {afterwards}"
        )
    verb = (
        "keeps running on the server and is"
        if len(prediction_ids) == 1
        else "keep running on the server and are"
    )
    return f"{stopped}: {named(prediction_ids)} {verb} billed. {afterwards}"


def defer_timeout(
    *,
    wait_timeout: float | None,
    grace: float,
    execution_timeout: timedelta | None,
    try_started: datetime | None,
    now: datetime | None = None,
) -> timedelta | None:
    """``defer(timeout=...)``: the wait's backstop, cut to what is left of ``execution_timeout``.

    Airflow 3 does not apply ``execution_timeout`` to a deferred task (the worker's alarm only
    covers code running on a worker), so a task would wait past it. Passing what is left of it
    as the deferral timeout makes the scheduler end the wait on time, as Airflow 2 did.
    """
    limits: list[float] = []
    if wait_timeout is not None:
        limits.append(wait_timeout + grace)
    if execution_timeout is not None:
        current = now or datetime.now(timezone.utc)
        started = try_started or current
        limits.append(max((started + execution_timeout - current).total_seconds(), 1.0))
    return timedelta(seconds=min(limits)) if limits else None
