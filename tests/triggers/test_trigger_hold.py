"""A trigger holds its event until ``fire_after``: one that fires within seconds of the deferral
meets Airflow's defer race (docs: Troubleshooting). The hold survives a triggerer restart (an
absolute time in the kwargs) and is off by default."""

from __future__ import annotations

import json
import time

import pytest

from airflow_provider_vlm.hooks.vlm import DEFER_HOLD, fire_after
from airflow_provider_vlm.triggers.prediction import PredictionTrigger

CONN = "vlm_trigger_hold_test"


@pytest.fixture
def conn(dev, monkeypatch) -> str:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN.upper()}",
        json.dumps({"conn_type": "vlm", "host": dev.base_url, "password": dev.api_key}),
    )
    return CONN


def _completed(dev) -> str:
    dev.faults(processing_time=0)
    with dev.client() as api:
        return api.post(
            "/document/generate",
            json={"domain": "document.markdown", "url": "https://x.test/1", "batch": True},
        ).json()["id"]


async def test_the_event_of_a_finished_prediction_waits_for_fire_after(dev, conn) -> None:
    pid = _completed(dev)
    hold_until = time.time() + 1.5
    trigger = PredictionTrigger([pid], vlm_conn_id=conn, deadline=time.time() + 60, fire_after=hold_until)
    rebuilt = PredictionTrigger(**trigger.serialize()[1])  # as a triggerer restart would
    events = [event.payload async for event in rebuilt.run()]
    assert time.time() >= hold_until
    assert [e["status"] for e in events] == ["success"]


def test_fire_after_is_the_hold_from_now_and_off_with_defer_after_zero() -> None:
    before = time.time()
    moment = fire_after(5.0)
    assert moment is not None and moment >= before + DEFER_HOLD
    assert fire_after(0.0) is None
