"""The one wait loop: poll predictions until they end, the deadline passes, or waiting cannot go on.

Every waiter runs it: ``client.wait`` (and so the SDK-style ``predictions.wait``), the trigger
(async driver), and the operators' and sensor's blocking paths (sync driver). It is an
``Operation`` like every API call, so both drivers run the very same decisions:

- intervals start at ``PollPolicy.first``, grow by ``factor`` while nothing changes, are capped at
  ``cap``, and go back to ``first`` when a status moves; a server's ``Retry-After`` wins;
- an error whose class is ``transient`` in the error table (no reply, 5xx, 429) never ends a wait
  before its deadline; with no deadline, a server that answers nothing for
  ``unreachable_timeout`` seconds ends it with ``error``;
- any other error (bad key, unknown id, a reply that breaks the wire contract) ends it at once;
- a wait on ``SWEEP_MIN_IDS`` ids or more reads ``GET /predictions`` pages first and reads one by
  one only what the pages did not show (the async driver runs those reads concurrently).
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow_provider_vlm.client._core import Now, Operation, Parallel, ReadStatuses, Sleep
from airflow_provider_vlm.client._durations import duration_text
from airflow_provider_vlm.client._inputs import check_id
from airflow_provider_vlm.client._ops import find_predictions, get_prediction
from airflow_provider_vlm.client.errors import (
    InvalidRequestError,
    NotFoundError,
    ResponseFormatError,
    VlmError,
    VlmInputError,
)
from airflow_provider_vlm.client.models import Prediction, PredictionStatus

log = logging.getLogger("airflow_provider_vlm.client")

#: For a wait on this many ids or more, each round first reads ``GET /predictions`` pages
#: (measured: 5,000 ids in 5 list requests instead of 5,000 GETs); smaller waits poll each id.
SWEEP_MIN_IDS = 50
#: With no deadline, how long a server that answers nothing is tolerated (seconds).
DEFAULT_UNREACHABLE_TIMEOUT = 3600.0
SWEEP_PAGE_SIZE = 1000
#: While nothing changes, a wait logs where it stands at most this often (seconds).
QUIET_LOG_EVERY = 60.0
#: Errors from the list route meaning "this server cannot sweep": read ids one by one from then on.
_NO_SWEEP: tuple[type[VlmError], ...] = (InvalidRequestError, NotFoundError, ResponseFormatError)


class Logger(Protocol):
    """What the loop logs with: a ``logging`` logger, an adapter, or Airflow's task/trigger log."""

    def info(self, msg: str, /, *args: Any) -> Any: ...

    def warning(self, msg: str, /, *args: Any) -> Any: ...


class WaitStatus(str, enum.Enum):
    """How a wait ended; the trigger event's ``status``."""

    SUCCESS = "success"  # every prediction completed
    FAILED = "failed"  # every prediction is terminal, at least one failed
    TIMEOUT = "timeout"  # the deadline passed first; the predictions keep running on the server
    ERROR = "error"  # the wait itself could not go on (bad key, unknown id, server gone too long)


@dataclass(frozen=True)
class PollPolicy:
    """How often to poll and how long a server that answers nothing is tolerated.

    :param first: the first interval, and the interval again after any status change (seconds).
    :param factor: growth of the interval while nothing changes (1 keeps it fixed).
    :param cap: the longest interval.
    :param unreachable_timeout: with no deadline, how long polls may fail with transient errors in
        a row before the wait ends with ``error``. A wait with a deadline rides out any outage
        until its deadline.
    """

    first: float = 5.0
    factor: float = 1.5
    cap: float = 30.0
    unreachable_timeout: float = DEFAULT_UNREACHABLE_TIMEOUT

    def __post_init__(self) -> None:
        if self.first <= 0 or self.factor < 1 or self.cap < self.first or self.unreachable_timeout <= 0:
            raise VlmInputError(
                "poll policy needs first > 0, factor >= 1, cap >= first and unreachable_timeout > 0; "
                f"got first={self.first}, factor={self.factor}, cap={self.cap}, "
                f"unreachable_timeout={self.unreachable_timeout}"
            )

    def next_interval(self, interval: float, changed: bool) -> float:
        return self.first if changed else min(interval * self.factor, self.cap)


@dataclass(frozen=True)
class WaitOutcome:
    """How a wait ended: the status, a message for people, the last statuses, the error if any."""

    status: WaitStatus
    prediction_ids: tuple[str, ...]
    message: str
    predictions: Mapping[str, Prediction] = field(default_factory=dict)
    #: The error that ended the wait (``error``), or the last poll error before a ``timeout``.
    error: VlmError | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Predictions per last known status; ids never read count as ``unknown``."""
        counts = Counter(p.status.value for p in self.predictions.values())
        unknown = len(self.prediction_ids) - len(self.predictions)
        if unknown:
            counts["unknown"] = unknown
        return dict(counts)

    def last_status(self, prediction_id: str) -> str | None:
        known = self.predictions.get(prediction_id)
        return known.status.value if known else None


class _Progress:
    """The statuses seen so far, and the log lines they call for.

    One id: each status change, and while nothing changes a line at most every
    ``QUIET_LOG_EVERY`` seconds with the time waited and the time left to the deadline. Many ids:
    ``n/N done (c completed, f failed)`` with the rate and an estimate of the time left, on a
    change (at most every ``QUIET_LOG_EVERY`` seconds unless the count of finished ones moved)
    and at least as often while nothing changes.
    """

    def __init__(self, ids: tuple[str, ...], logger: Logger, started: float, deadline: float | None) -> None:
        self.ids = ids
        self.log = logger
        self.latest: dict[str, Prediction] = {}
        self.started = started
        self.deadline = deadline
        self.last_line = started
        self.last_done = 0

    def record(self, fresh: list[Prediction], now: float) -> bool:
        """Store fresh statuses and log what a reader should see. True if anything moved."""
        changed = False
        for prediction in fresh:
            before = self.latest.get(prediction.id)
            if before is None or before.status is not prediction.status:
                changed = True
                if prediction.status is PredictionStatus.PAUSED:
                    self.log.warning("prediction %s is paused on the server; still waiting", prediction.id)
                if len(self.ids) == 1:
                    self.log.info(
                        "prediction %s: %s -> %s",
                        prediction.id,
                        before.status.value if before else "submitted",
                        prediction.status.value,
                    )
                    self.last_line = now
            self.latest[prediction.id] = prediction
        if len(self.ids) > 1:
            counts = Counter(p.status for p in self.latest.values())
            done = counts[PredictionStatus.COMPLETED] + counts[PredictionStatus.FAILED]
            if done != self.last_done or now - self.last_line >= QUIET_LOG_EVERY:
                self._batch_line(
                    done, counts[PredictionStatus.COMPLETED], counts[PredictionStatus.FAILED], now
                )
        elif now - self.last_line >= QUIET_LOG_EVERY:
            self._quiet_line(now)
        return changed

    def _left(self, now: float) -> str:
        return (
            "no deadline"
            if self.deadline is None
            else f"{duration_text(max(0.0, self.deadline - now))} to the deadline"
        )

    def _quiet_line(self, now: float) -> None:
        pid = self.ids[0]
        status = self.latest[pid].status.value if pid in self.latest else "not read yet"
        self.log.info(
            "prediction %s still %s after %s; %s",
            pid,
            status,
            duration_text(now - self.started),
            self._left(now),
        )
        self.last_line = now

    def _batch_line(self, done: int, completed: int, failed: int, now: float) -> None:
        total = len(self.ids)
        elapsed = now - self.started
        if done and elapsed > 0:
            rate = done / elapsed
            pace = f"{rate * 60:,.1f}/min, about {duration_text((total - done) / rate)} left"
        else:
            pace = "none finished yet"
        self.log.info(
            "%s/%s done (%s completed, %s failed); %s; %s",
            f"{done:,}",
            f"{total:,}",
            f"{completed:,}",
            f"{failed:,}",
            pace,
            self._left(now),
        )
        self.last_line = now
        self.last_done = done

    def waiting(self) -> list[str]:
        return [pid for pid in self.ids if not (pid in self.latest and self.latest[pid].status.is_terminal)]

    def end(self, status: WaitStatus, message: str, error: VlmError | None = None) -> WaitOutcome:
        return WaitOutcome(status, self.ids, message, dict(self.latest), error)

    def finished(self) -> WaitOutcome:
        failed = [p for p in self.latest.values() if p.status is PredictionStatus.FAILED]
        total = len(self.ids)
        if not failed:
            # One id: the event carries it already, the message need not repeat it.
            return self.end(
                WaitStatus.SUCCESS, "completed" if total == 1 else f"all {total} predictions completed"
            )
        first = failed[0]
        if total == 1:
            return self.end(WaitStatus.FAILED, f"prediction {first.id} failed: {first.error_message}")
        return self.end(
            WaitStatus.FAILED,
            f"{len(failed)} of {total} predictions failed; first: {first.id}: {first.error_message}",
        )

    def timed_out(self, waiting: list[str], last_error: VlmError | None) -> WaitOutcome:
        if len(self.ids) == 1:
            pid = self.ids[0]
            status = self.latest[pid].status.value if pid in self.latest else "unknown"
            message = f"still {status} at the deadline; it keeps running on the server"
        else:
            message = (
                f"{len(waiting)} of {len(self.ids)} predictions still waiting at the deadline; "
                "they keep running on the server"
            )
        if last_error is not None:
            message += f"; last poll error: {last_error}"
        return self.end(WaitStatus.TIMEOUT, message, last_error)


Reads = dict[str, "Prediction | VlmError"]


def read_round(
    ids: Sequence[str], sweep: bool, limit: int, logger: Logger = log
) -> Operation[tuple[Reads, bool]]:
    """One poll round: a list sweep (when ``sweep``), then per-id reads for what it did not show.

    Returns each id's prediction or the error reading it, and whether to sweep next round.
    """
    reads: Reads = {}
    if sweep:
        # Drivers raise a step's error out of the operation, so the sweep runs as a one-item
        # Parallel step, which hands its error back as a value.
        (listed,) = yield Parallel((find_predictions(ids, SWEEP_PAGE_SIZE),), limit=1)
        if isinstance(listed, _NO_SWEEP):
            logger.info("the server cannot list predictions (%s); reading them one by one", listed)
            sweep = False
        elif isinstance(listed, VlmError):  # an optimisation only: read one by one this round
            logger.info("listing predictions failed (%s); reading them one by one this round", listed)
        else:
            reads.update(listed)
    rest = [pid for pid in ids if pid not in reads]
    if rest:
        results = yield Parallel(tuple(get_prediction(pid) for pid in rest), limit=limit)
        reads.update(zip(rest, results, strict=True))
    return reads, sweep


def wait_for(
    prediction_ids: Sequence[str],
    *,
    deadline: float | None,
    policy: PollPolicy | None = None,
    concurrency: int = 20,
    logger: Logger | None = None,
    coalesce: bool = False,
) -> Operation[WaitOutcome]:
    """Poll until every id is terminal, ``deadline`` (epoch seconds) passes, or waiting must stop.

    Never raises for what the server answers: the outcome says how the wait ended.
    ``coalesce`` yields each round as a ``ReadStatuses`` step, for a driver that shares rounds
    between waits.
    """
    ids = tuple(check_id(pid, name="prediction_id") for pid in prediction_ids)
    if not ids:
        raise VlmInputError("a wait needs at least one prediction id")
    policy = policy or PollPolicy()
    logger = logger or log
    waiting = list(ids)
    sweep = len(ids) >= SWEEP_MIN_IDS
    interval = policy.first
    last_read: float = yield Now()
    progress = _Progress(ids, logger, last_read, deadline)
    while True:
        if coalesce:
            reads, sweep = yield ReadStatuses(tuple(waiting), sweep, concurrency)
        else:
            reads, sweep = yield from read_round(waiting, sweep, concurrency, logger)
        fresh = [r for r in reads.values() if isinstance(r, Prediction)]
        errors = [r for r in reads.values() if isinstance(r, VlmError)]
        now: float = yield Now()
        stop = next((e for e in errors if not e.transient), None)
        if stop is not None:
            return progress.end(WaitStatus.ERROR, str(stop), stop)
        changed = progress.record(fresh, now)
        waiting = progress.waiting()
        if not waiting:
            return progress.finished()
        if fresh:
            last_read = now
        last_error = errors[-1] if errors else None
        if deadline is not None and now >= deadline:
            return progress.timed_out(waiting, last_error)
        if last_error is not None:
            logger.warning(
                "%d status read(s) failed (%s); still waiting%s",
                len(errors),
                last_error,
                "" if deadline is None else f", until the deadline in {deadline - now:.0f}s",
            )
            if deadline is None and not fresh and now - last_read >= policy.unreachable_timeout:
                return progress.end(
                    WaitStatus.ERROR,
                    f"no status could be read for {now - last_read:.0f}s (unreachable_timeout "
                    f"{policy.unreachable_timeout:g}s); last error: {last_error}",
                    last_error,
                )
        interval = policy.next_interval(interval, changed)
        retry_after = max((getattr(e, "retry_after", None) or 0.0 for e in errors), default=0.0)
        delay = max(interval, retry_after)
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - now))
        yield Sleep(delay)
