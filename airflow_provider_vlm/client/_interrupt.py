"""Ending a blocking client's sleeps early: how a task told to stop stops within a second.

A blocking call sleeps between attempts (backoff, ``Retry-After``) and between polls; against a
dead server that is most of its time. Airflow asks a task to stop by calling its ``on_kill``
(from the SIGTERM handler, or after ``execution_timeout``), which returns without ending the
task. ``Interruption.set`` is what ``on_kill`` calls: every sleep of the client then wakes
within ``SLICE`` seconds and raises ``Interrupted``, and so does the next attempt of any call.

``set`` only assigns attributes (no lock), so it is safe inside a signal handler.
"""

from __future__ import annotations

import time

#: Longest uninterrupted piece of a sleep: how late a stop may be noticed.
SLICE = 0.2


class Interrupted(Exception):
    """The client was told to stop (its task was killed); nothing more is sent.

    Not a ``VlmError``: no layer rides it out or retries it.
    """


class Interruption:
    """A stop flag shared by one client's calls, in any thread."""

    def __init__(self) -> None:
        self.reason: str | None = None

    @property
    def is_set(self) -> bool:
        return self.reason is not None

    def set(self, reason: str) -> None:
        self.reason = reason

    def check(self) -> None:
        """Raise ``Interrupted`` once ``set`` was called."""
        if self.reason is not None:
            raise Interrupted(f"stopped: {self.reason}")

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` that ``set`` ends within ``SLICE`` seconds, raising ``Interrupted``."""
        end = time.monotonic() + max(0.0, seconds)
        while True:
            self.check()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, SLICE))
