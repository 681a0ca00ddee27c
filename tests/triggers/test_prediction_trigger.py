"""PredictionTrigger: exact serialization, one event per run, wall-clock deadline, errors."""

from __future__ import annotations

import json
import time

import pytest
import time_machine

from airflow_provider_vlm.events import MAX_EVENT_IDS, PredictionEvent, WaitStatus
from airflow_provider_vlm.triggers.prediction import PredictionTrigger

CONN = "vlm_trigger_test"


@pytest.fixture
def conn(dev, monkeypatch) -> str:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN.upper()}",
        json.dumps({"conn_type": "vlm", "host": dev.base_url, "password": dev.api_key}),
    )
    return CONN


def _submit(dev, n: int = 1) -> list[str]:
    with dev.client() as api:
        return [
            api.post(
                "/document/generate",
                json={"domain": "document.markdown", "url": f"https://x.test/{i}", "batch": True},
            ).json()["id"]
            for i in range(n)
        ]


async def _events(trigger: PredictionTrigger) -> list[dict]:
    return [event.payload async for event in trigger.run()]


def test_serialize_is_exact_and_round_trips() -> None:
    trigger = PredictionTrigger(
        ["p1", "p2"], vlm_conn_id="c", deadline=1700000000.5, poll_interval=2, max_poll_interval=9
    )
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_vlm.triggers.prediction.PredictionTrigger"
    assert kwargs == {
        "prediction_ids": ["p1", "p2"],
        "vlm_conn_id": "c",
        "deadline": 1700000000.5,
        "poll_interval": 2.0,
        "max_poll_interval": 9.0,
        "max_concurrency": 20,
        "unreachable_timeout": 3600.0,
        "waiting_since": None,
        "fire_after": None,
    }
    assert PredictionTrigger(**kwargs).serialize() == (path, kwargs)


def test_kwargs_serialized_by_earlier_versions_still_load() -> None:
    """``max_consecutive_errors`` is accepted (rows already in a DB carry it) and dropped."""
    old = {"prediction_ids": ["p1"], "vlm_conn_id": "c", "deadline": None, "max_consecutive_errors": 10}
    _path, kwargs = PredictionTrigger(**old).serialize()
    assert "max_consecutive_errors" not in kwargs
    assert kwargs["unreachable_timeout"] == 3600.0


async def test_one_success_event_for_many_ids(dev, conn) -> None:
    ids = _submit(dev, 3)
    trigger = PredictionTrigger(
        ids, vlm_conn_id=conn, deadline=time.time() + 60, poll_interval=0.2, max_poll_interval=0.5
    )
    events = await _events(trigger)
    assert len(events) == 1
    event = PredictionEvent.from_dict(events[0])
    assert event.status is WaitStatus.SUCCESS
    assert list(event.prediction_ids) == ids
    assert event.counts == {"completed": 3}
    assert dev.api_key not in json.dumps(events[0]) + json.dumps(trigger.serialize()[1])


async def test_event_of_a_big_wait_carries_counts_not_ids(dev, conn) -> None:
    """Over ``MAX_EVENT_IDS`` the waiter has the ids in its record; the event stays a short line."""
    ids = _submit(dev, MAX_EVENT_IDS + 1)
    trigger = PredictionTrigger(
        ids, vlm_conn_id=conn, deadline=time.time() + 60, poll_interval=0.2, max_poll_interval=0.5
    )
    (event,) = await _events(trigger)
    assert event["status"] == "success" and event["prediction_ids"] == []
    assert event["counts"] == {"completed": MAX_EVENT_IDS + 1}
    assert len(json.dumps(event)) < 150


async def test_failed_prediction_carries_the_server_message(dev, conn) -> None:
    with dev.client() as api:
        file_id = api.post(
            "/files", params={"purpose": "assistants"}, files={"file": ("x.pdf", b"not a pdf")}
        ).json()["id"]
        pid = api.post(
            "/document/generate", json={"domain": "document.invoice", "file_id": file_id, "batch": True}
        ).json()["id"]
    trigger = PredictionTrigger(
        [pid], vlm_conn_id=conn, deadline=time.time() + 60, poll_interval=0.2, max_poll_interval=0.5
    )
    (event,) = await _events(trigger)
    assert event["status"] == "failed"
    assert pid in event["message"] and "failed:" in event["message"]


async def test_deadline_is_wall_clock(dev, conn) -> None:
    """A deadline fixed earlier is honoured after a restart: the trigger reads the wall clock."""
    dev.faults(processing_time=600)
    (pid,) = _submit(dev)
    deadline = time.time() + 3600
    trigger = PredictionTrigger(
        [pid], vlm_conn_id=conn, deadline=deadline, poll_interval=0.1, max_poll_interval=0.1
    )
    with time_machine.travel(deadline + 1, tick=True):
        (event,) = await _events(trigger)
    assert event["status"] == "timeout"
    assert set(event["counts"]) <= {"enqueued", "pending", "running"}


async def test_unknown_id_and_bad_connection_end_with_error(dev, conn, monkeypatch) -> None:
    (event,) = await _events(PredictionTrigger(["no-such-id"], vlm_conn_id=conn, deadline=time.time() + 60))
    assert event["status"] == "error" and "HTTP 404" in event["message"]
    monkeypatch.setenv("AIRFLOW_CONN_VLM_NOKEY", json.dumps({"conn_type": "vlm", "host": dev.base_url}))
    (event,) = await _events(PredictionTrigger(["x"], vlm_conn_id="vlm_nokey", deadline=time.time() + 60))
    assert event["status"] == "error" and "no API key" in event["message"]
    (event,) = await _events(
        PredictionTrigger(["x"], vlm_conn_id="vlm_missing_conn", deadline=time.time() + 60)
    )
    assert event["status"] == "error" and "vlm_missing_conn" in event["message"]


async def test_transient_faults_are_tolerated(dev, conn) -> None:
    (pid,) = _submit(dev)
    dev.faults(error_rate=0.3, rate_limit_rate=0.1, retry_after=0, methods=["GET"])
    trigger = PredictionTrigger(
        [pid], vlm_conn_id=conn, deadline=time.time() + 60, poll_interval=0.1, max_poll_interval=0.2
    )
    (event,) = await _events(trigger)
    assert event["status"] == "success"


def _gone(monkeypatch) -> str:
    monkeypatch.setenv(
        "AIRFLOW_CONN_VLM_GONE",
        json.dumps(
            {
                "conn_type": "vlm",
                "host": "http://127.0.0.1:9/v1",
                "password": "k",
                "extra": {"max_retries": 0},
            }
        ),
    )
    return "vlm_gone"


async def test_server_gone_is_ridden_out_until_the_deadline(monkeypatch) -> None:
    """No count of failed polls ends a wait early: it ends at its deadline, with ``timeout``."""
    trigger = PredictionTrigger(
        ["p"],
        vlm_conn_id=_gone(monkeypatch),
        deadline=time.time() + 1.5,
        poll_interval=0.01,
        max_poll_interval=0.01,
        max_consecutive_errors=3,
    )
    (event,) = await _events(trigger)
    assert event["status"] == "timeout", event
    assert "keeps running on the server" in event["message"]
    assert "cannot connect to 127.0.0.1:9" in event["message"]


async def test_server_gone_without_deadline_ends_after_unreachable_timeout(monkeypatch) -> None:
    trigger = PredictionTrigger(
        ["p"],
        vlm_conn_id=_gone(monkeypatch),
        deadline=None,
        poll_interval=0.01,
        max_poll_interval=0.01,
        unreachable_timeout=0.5,
    )
    (event,) = await _events(trigger)
    assert event["status"] == "error", event
    assert "unreachable_timeout 0.5s" in event["message"] and "127.0.0.1:9" in event["message"]


async def test_big_waits_sweep_the_list_instead_of_one_get_per_id(dev, conn) -> None:
    dev.reset(state=True)
    ids = _submit(dev, 120)
    dev.reset()  # stats only
    trigger = PredictionTrigger(
        ids, vlm_conn_id=conn, deadline=time.time() + 60, poll_interval=0.3, max_poll_interval=0.5
    )
    (event,) = await _events(trigger)
    assert event["status"] == "success" and event["counts"] == {"completed": 120}
    requests = dev.stats()["requests"]
    assert requests.get("GET /predictions/{id}", 0) == 0
    assert 1 <= requests["GET /predictions"] <= 10


async def test_sweep_falls_back_to_per_id_gets(dev, conn) -> None:
    ids = _submit(dev, 60)
    dev.reset()
    dev.faults(rules=[{"method": "GET", "path": "/predictions", "status": 422, "count": 100}])
    trigger = PredictionTrigger(
        ids, vlm_conn_id=conn, deadline=time.time() + 60, poll_interval=0.3, max_poll_interval=0.5
    )
    (event,) = await _events(trigger)
    assert event["status"] == "success"
    requests = dev.stats()["requests"]
    assert requests["GET /predictions"] == 1  # refused once, then never asked again
    assert requests["GET /predictions/{id}"] >= 60
