"""What a triggerer's waits share: one SSL context, one client per connection settings, poll rounds."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from airflow_provider_vlm.client import _shared
from airflow_provider_vlm.client._settings import ClientSettings, shared_ssl_context
from airflow_provider_vlm.triggers.prediction import PredictionTrigger

CONN = "vlm_sharing_test"


def test_one_ssl_context_per_verify_setting() -> None:
    assert shared_ssl_context(True) is shared_ssl_context(True)
    assert shared_ssl_context(False) is not shared_ssl_context(True)
    a = ClientSettings("key-a", "https://api.example.com/v1").httpx_options()["verify"]
    b = ClientSettings("key-b", "https://other.example.com/v1").httpx_options()["verify"]
    assert a is b


async def test_one_client_per_settings_closed_by_the_last_user() -> None:
    one = ClientSettings("secret-one", "https://api.example.com/v1")
    same = ClientSettings("secret-one", "https://api.example.com/v1")
    other_key = ClientSettings("secret-two", "https://api.example.com/v1")
    async with _shared.shared_async_client(one) as a, _shared.shared_async_client(same) as b:
        assert a is b
        async with _shared.shared_async_client(other_key) as c:
            assert c is not a  # a changed connection gets its own client; running waits keep theirs
            assert _shared.shared_client_count() == 2
            assert "secret" not in repr(list(_shared._leases)) + repr(a) + repr(c)
        assert _shared.shared_client_count() == 1
    assert _shared.shared_client_count() == 0


@pytest.fixture
def conn(dev, monkeypatch) -> str:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN.upper()}",
        json.dumps({"conn_type": "vlm", "host": dev.base_url, "password": dev.api_key}),
    )
    return CONN


def _predictions(dev, n: int) -> list[str]:
    """``n`` batch predictions on the dev server (URL inputs, no uploads); their ids."""
    with dev.client() as api:
        return [
            api.post(
                "/document/generate",
                json={"domain": "document.markdown", "url": f"https://x.test/{i}", "batch": True},
            ).json()["id"]
            for i in range(n)
        ]


async def test_many_single_id_waits_share_their_poll_rounds(dev, conn) -> None:
    """200 triggers of one id each: one client, and list sweeps instead of 200 GETs a round."""
    dev.reset(state=True)
    ids = _predictions(dev, 200)
    dev.reset()  # stats only
    deadline = time.time() + 60
    triggers = [
        PredictionTrigger(
            [pid], vlm_conn_id=conn, deadline=deadline, poll_interval=0.3, max_poll_interval=0.5
        )
        for pid in ids
    ]
    clients: set[int] = set()

    async def run(trigger: PredictionTrigger) -> dict:
        async for event in trigger.run():
            clients.update(id(lease.client) for lease in _shared._leases.values())
            return event.payload
        raise AssertionError("no event")

    events = await asyncio.gather(*(run(t) for t in triggers))
    assert {e["status"] for e in events} == {"success"}
    assert len(clients) == 1
    requests = dev.stats()["requests"]
    # Unshared, each wait reads at least twice (400 requests). Shared, rounds are list sweeps;
    # only waits that start after a round has gone out (a loaded machine) may read one by one.
    assert requests["GET /predictions"] >= 1
    assert requests["GET /predictions"] + requests.get("GET /predictions/{id}", 0) < len(ids) // 2
    assert _shared.shared_client_count() == 0


async def test_waits_that_start_out_of_step_still_share_rounds(dev, conn) -> None:
    """As tasks defer over minutes in a deployment: 200 waits started 20 ms apart, polling every
    second. A 0.1 s window would gather about five ids a round and read them one by one (about
    200 requests a second of polling); once 50 waits share the board, its rounds gather enough
    ids to be list sweeps."""
    dev.reset(state=True)
    dev.faults(processing_time=6)
    ids = _predictions(dev, 200)
    dev.reset()  # stats only; the predictions finish 6 s after they were made
    deadline = time.time() + 60

    async def run(i: int, pid: str) -> dict:
        await asyncio.sleep(i * 0.02)
        trigger = PredictionTrigger(
            [pid], vlm_conn_id=conn, deadline=deadline, poll_interval=1.0, max_poll_interval=1.0
        )
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    events = await asyncio.gather(*(run(i, pid) for i, pid in enumerate(ids)))
    assert {e["status"] for e in events} == {"success"}
    requests = dev.stats()["requests"]
    # Each wait polls about five times before its prediction finishes: about 1,000 reads, which
    # went out as ~1,000 per-id requests before crowds widened the window. Rounds sized for
    # about 100 ids make a few dozen requests, most of them sweeps (the first waits, before the
    # crowd, read by id).
    per_id = requests.get("GET /predictions/{id}", 0)
    assert requests["GET /predictions"] >= 3
    assert requests["GET /predictions"] + per_id < 200, requests
    assert _shared.shared_client_count() == 0
