"""Durations as people read them in logs: ``42 s``, ``3 min 5 s``, ``2 h 4 min``."""

from __future__ import annotations


def duration_text(seconds: float) -> str:
    """Whole units, the two largest that matter."""
    whole = round(seconds)
    if whole < 90:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 90:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
