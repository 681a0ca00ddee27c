"""The worker's waits on ``VlmHook``: the trigger's loop on the sync driver, through the connection."""

from __future__ import annotations

import json
import time

import pytest

from airflow_provider_vlm.client import (
    NotFoundError,
    PredictionFailedError,
    PredictionTimeoutError,
    VlmClient,
)
from airflow_provider_vlm.events import PredictionEvent, WaitStatus
from airflow_provider_vlm.hooks.vlm import PredictionWaitError, VlmHook


def _hook(monkeypatch, conn_id: str, host: str, key: str, max_retries: int = 1) -> VlmHook:
    fields = {"conn_type": "vlm", "host": host, "password": key, "extra": {"max_retries": max_retries}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
    return VlmHook(conn_id)


@pytest.fixture
def hook(dev, monkeypatch) -> VlmHook:
    made = _hook(monkeypatch, "vlm_waits", dev.base_url, dev.api_key)
    yield made
    made.close()


def _submit(client: VlmClient, n: int, domain: str = "document.markdown") -> list[str]:
    return [
        client.document.generate(domain=domain, url=f"https://x.test/{i}.pdf", batch=True).id
        for i in range(n)
    ]


def test_many_ids_wait_in_the_worker_and_give_the_trigger_event(dev, hook) -> None:
    ids = _submit(hook.get_client(), 60)
    dev.reset()  # stats only
    event = hook.wait_for_predictions(
        ids, deadline=time.time() + 60, poll_interval=0.3, max_poll_interval=0.5
    )
    assert isinstance(event, PredictionEvent)
    assert event.status is WaitStatus.SUCCESS and event.counts == {"completed": 60}
    assert list(event.prediction_ids) == ids
    assert dev.stats()["requests"].get("GET /predictions/{id}", 0) == 0  # list sweeps did it


def test_the_first_check_rides_out_an_outage_and_the_wait_completes(dev, hook) -> None:
    (pid,) = _submit(hook.get_client(), 1)
    dev.faults(rules=[{"method": "GET", "path": "/predictions/*", "status": 503, "seconds": 2}])
    assert hook.check_prediction(pid) is None
    done = hook.wait_for_prediction(
        pid, deadline=time.time() + 60, timeout=60, poll_interval=0.2, max_poll_interval=0.5
    )
    assert done.status.value == "completed"
    assert hook.prediction_record(done)["id"] == pid


def test_the_first_check_raises_what_waiting_cannot_fix(hook) -> None:
    with pytest.raises(NotFoundError):
        hook.check_prediction("no-such-id")


def test_a_deadline_already_passed_raises_the_timeout_naming_the_prediction(dev, hook) -> None:
    dev.faults(processing_time=30)
    (pid,) = _submit(hook.get_client(), 1)
    with pytest.raises(PredictionTimeoutError) as info:
        hook.wait_for_prediction(
            pid, deadline=time.time(), timeout=5, poll_interval=0.1, max_poll_interval=0.1
        )
    assert pid in str(info.value)


def test_a_failed_prediction_is_returned_and_its_record_raises(hook) -> None:
    client = hook.get_client()
    stored = client.files.upload(b"not a pdf", filename="x.pdf")
    pid = client.document.generate(domain="document.invoice", file_id=stored.id, batch=True).id
    done = hook.wait_for_prediction(
        pid, deadline=time.time() + 60, timeout=60, poll_interval=0.1, max_poll_interval=0.2
    )
    assert done.status.value == "failed"
    with pytest.raises(PredictionFailedError):
        hook.prediction_record(done)


def test_an_error_event_is_settled_by_asking_the_server_again(dev, hook) -> None:
    (pid,) = _submit(hook.get_client(), 1)
    hook.wait_for_prediction(
        pid, deadline=time.time() + 60, timeout=60, poll_interval=0.1, max_poll_interval=0.2
    )
    event = {"status": "error", "prediction_ids": [pid], "message": "server gone", "counts": {}}
    assert hook.settle_event(event, timeout=60).id == pid  # finished meanwhile: returned
    timeout_event = {"status": "timeout", "prediction_ids": [pid], "message": "", "counts": {"running": 1}}
    with pytest.raises(PredictionTimeoutError):
        hook.settle_event(timeout_event, timeout=60)


def test_no_deadline_and_no_server_ends_after_unreachable_timeout(monkeypatch) -> None:
    hook = _hook(monkeypatch, "vlm_nowhere", "http://127.0.0.1:9/v1", "k", max_retries=0)
    with pytest.raises(PredictionWaitError) as info:
        hook.wait_for_prediction(
            "p",
            deadline=None,
            timeout=None,
            poll_interval=0.05,
            max_poll_interval=0.05,
            unreachable_timeout=0.5,
        )
    assert "unreachable_timeout 0.5s" in str(info.value) and "127.0.0.1:9" in str(info.value)
