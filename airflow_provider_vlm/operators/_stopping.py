"""How the prediction operators behave when Airflow stops them: they say what keeps running.

VLM Run cannot cancel a prediction, so a stop never sends anything; it only ends the wait. Three
moments can notice a stop, and each logs ``stopping.still_running``:

- ``on_kill``: Airflow calls it on the worker when a waiting task (``deferrable=False``) is
  marked failed or cleared (the task gets SIGTERM), or hits ``execution_timeout``.
- ``resume_execution`` with ``next_method="__fail__"``: the scheduler ended a deferred wait
  (its deferral timeout, which carries ``execution_timeout``), and the task resumes only to fail.
- the trigger's own ``on_kill`` (Airflow >= 3.3) when a deferred task is marked or cleared.

Nothing here writes the durable record: it already holds the ids, and the next try reads it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_vlm.operators._common import DEFER_GRACE
from airflow_provider_vlm.state_store import RecordError
from airflow_provider_vlm.stopping import TRIGGER_FAIL, defer_timeout, named, still_running

if TYPE_CHECKING:
    from airflow.sdk import Context


def _in_sigterm_handler() -> bool:
    """``on_kill`` was called by the Task SDK's SIGTERM handler (``_on_term``, the same on 3.0-3.3)."""
    caller = sys._getframe(2)  # _in_sigterm_handler <- on_kill <- its caller
    return caller.f_code.co_name == "_on_term"


class StopReporting:
    """Mixed into the prediction operators ahead of ``BaseOperator``."""

    log: Any
    timeout: float | None
    max_poll_interval: float
    execution_timeout: timedelta | None
    #: Predictions this try waits for (or created so far), for ``on_kill``; set as they are known.
    _waiting_ids: list[str]

    def recorded_waiting_ids(self, context: Context) -> list[str]:
        """The ids the durable record holds as still waiting (read when resumed only to fail)."""
        raise NotImplementedError

    def deferral_timeout(self, context: Context) -> timedelta | None:
        """``defer(timeout=...)``: the wait's backstop, and no later than ``execution_timeout`` allows."""
        return defer_timeout(
            wait_timeout=self.timeout,
            grace=self.max_poll_interval + DEFER_GRACE,
            execution_timeout=self.execution_timeout,
            try_started=getattr(context["ti"], "start_date", None),
        )

    def log_deferring(self, prediction_ids: Sequence[str]) -> None:
        self.log.info(
            "deferring: waiting for %s; stopping this task (mark failed, clear, timeout) cancels "
            "nothing on the server",
            named(prediction_ids),
        )

    def on_kill(self) -> None:
        """Called on the worker (SIGTERM or ``execution_timeout``): short, never raises, sends nothing.

        Airflow's SIGTERM handler only calls this and returns, so the try would go on waiting (or
        retrying a dead server) until SIGKILL. Interrupting the hook makes its sleeps and the next
        attempt of any call raise ``Interrupted`` within a second: the try ends there.
        """
        line = still_running(
            getattr(self, "_waiting_ids", []),
            stopped="the task was stopped on the worker (marked failed or succeeded, cleared, "
            "execution_timeout or SIGTERM)",
        )
        hook = vars(self).get("hook")  # the cached hook of this try, if it made one
        if hook is not None and hook.interrupt(line) and _in_sigterm_handler():
            # The main thread raises Interrupted(line) and Airflow logs it there. Logging here could
            # deadlock: the handler runs in the main thread, which may hold a log lock right now.
            return
        self.log.warning("%s", line)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Log what keeps running before Airflow fails a deferred wait it ended (timeout, trigger failure)."""
        if next_method == TRIGGER_FAIL:
            reason = (next_kwargs or {}).get("error", "unknown reason")
            try:
                ids = self.recorded_waiting_ids(context)
            except RecordError as exc:
                self.log.warning("the durable record could not be read to name the predictions: %s", exc)
                ids = []
            self.log.warning("%s", still_running(ids, stopped=f"Airflow ended the deferred wait ({reason})"))
        return super().resume_execution(next_method, next_kwargs, context)  # type: ignore[misc]
