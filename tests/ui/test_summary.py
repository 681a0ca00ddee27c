"""The one line a resumed try logs: which prediction, how it ended, how long, what it cost."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_vlm._summary import duration_text, finished_wait_line, wait_started_at
from airflow_provider_vlm.client import Prediction

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def _prediction(**fields) -> Prediction:
    base = {
        "id": "pr_42",
        "status": "completed",
        "created_at": T0,
        "completed_at": T0 + timedelta(seconds=42),
    }
    return Prediction.model_validate({**base, **fields})


def test_completed_line() -> None:
    line = finished_wait_line(
        _prediction(usage={"credits_used": 3}), T0 - timedelta(seconds=2), now=T0 + timedelta(seconds=45)
    )
    assert line == "prediction pr_42 completed after 42 s, waited 47 s, 3 credits"


def test_failed_line_with_fractional_credit_and_naive_server_times() -> None:
    naive = T0.replace(tzinfo=None)
    prediction = _prediction(
        status="failed",
        created_at=naive,
        completed_at=naive + timedelta(minutes=3, seconds=5),
        usage={"credits_used": 0.5},
    )
    line = finished_wait_line(prediction, T0, now=T0 + timedelta(minutes=4))
    assert line == "prediction pr_42 failed after 3 min 5 s, waited 4 min, 0.5 credits"


def test_unknown_parts_are_left_out() -> None:
    prediction = _prediction(created_at=None, completed_at=None)
    assert finished_wait_line(prediction, None) == "prediction pr_42 completed, credits not reported"
    assert finished_wait_line(_prediction(usage={"credits_used": 1}), None) == (
        "prediction pr_42 completed after 42 s, 1 credit"
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "0 s"), (89, "89 s"), (90, "1 min 30 s"), (600, "10 min"), (5400, "1 h 30 min"), (7200, "2 h")],
)
def test_durations(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_clock_skew_never_gives_a_negative_wait() -> None:
    line = finished_wait_line(_prediction(), T0 + timedelta(seconds=10), now=T0)
    assert "waited 0 s" in line


def test_wait_start_is_the_try_start() -> None:
    class Ti:
        start_date = T0

    assert wait_started_at({"ti": Ti()}) == T0
    assert wait_started_at({}) is None
