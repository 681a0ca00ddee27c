"""Wall-clock helpers: records keep epoch seconds, the wire shows ISO 8601 in UTC."""

from __future__ import annotations

import time
from datetime import datetime, timezone


def now() -> float:
    """Epoch seconds; a function so that every timestamp comes from one place."""
    return time.time()


def iso(ts: float | None) -> str | None:
    """ISO 8601 with an explicit UTC offset, as the SDK's pydantic models parse it."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()
