"""The worker's waits (``sensors/_completion``): the trigger's loop on the sync driver."""

from __future__ import annotations

import time

import pytest

from airflow_provider_vlm.client import NotFoundError, VlmClient
from airflow_provider_vlm.client._retry import RetryPolicy
from airflow_provider_vlm.events import WaitStatus
from airflow_provider_vlm.sensors._completion import (
    PredictionWaitError,
    first_check,
    wait_blocking,
    wait_many_blocking,
)

FAST = RetryPolicy(max_retries=1, backoff_base=0.01, backoff_cap=0.05)


def _client(dev) -> VlmClient:
    return VlmClient(dev.api_key, dev.base_url, retry_policy=FAST)


def _submit(client: VlmClient, n: int) -> list[str]:
    return [
        client.document.generate(domain="document.markdown", url=f"https://x.test/{i}.pdf", batch=True).id
        for i in range(n)
    ]


def test_many_ids_wait_in_the_worker_and_give_the_trigger_event(dev) -> None:
    with _client(dev) as client:
        ids = _submit(client, 60)
        dev.reset()  # stats only
        event = wait_many_blocking(
            client, ids, deadline=time.time() + 60, poll_interval=0.3, max_poll_interval=0.5
        )
    assert event.status is WaitStatus.SUCCESS and event.counts == {"completed": 60}
    assert list(event.prediction_ids) == ids
    assert dev.stats()["requests"].get("GET /predictions/{id}", 0) == 0  # list sweeps did it


def test_the_first_check_rides_out_an_outage_and_the_wait_completes(dev) -> None:
    with _client(dev) as client:
        (pid,) = _submit(client, 1)
        dev.faults(rules=[{"method": "GET", "path": "/predictions/*", "status": 503, "seconds": 2}])
        assert first_check(client, pid) is None
        done = wait_blocking(
            client, pid, deadline=time.time() + 60, timeout=60, poll_interval=0.2, max_poll_interval=0.5
        )
    assert done.status.value == "completed"


def test_the_first_check_raises_what_waiting_cannot_fix(dev) -> None:
    with _client(dev) as client, pytest.raises(NotFoundError):
        first_check(client, "no-such-id")


def test_no_deadline_and_no_server_ends_after_unreachable_timeout() -> None:
    with VlmClient("k", "http://127.0.0.1:9/v1", retry_policy=RetryPolicy(max_retries=0)) as client:
        with pytest.raises(PredictionWaitError) as info:
            wait_blocking(
                client,
                "p",
                deadline=None,
                timeout=None,
                poll_interval=0.05,
                max_poll_interval=0.05,
                unreachable_timeout=0.5,
            )
    assert "unreachable_timeout 0.5s" in str(info.value) and "127.0.0.1:9" in str(info.value)
