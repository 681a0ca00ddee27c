"""The async client: the same operations, driven by asyncio."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_vlm.client import (
    AsyncVlmClient,
    NotFoundError,
    PredictionFailedError,
    PredictionStatus,
    PredictionTimeoutError,
    VlmClient,
)


async def test_get_list_wait(dev, invoice_pdf) -> None:
    async with AsyncVlmClient(dev.api_key, dev.base_url) as client:
        assert await client.health()
        submitted = await client.generate("document", domain="document.invoice", file=invoice_pdf)
        assert (await client.get_prediction(submitted.id)).id == submitted.id
        assert submitted.id in [p.id for p in await client.list_predictions(limit=5)]
        done = await client.wait(submitted.id, timeout=30, sleep=0.2)
        assert done.status is PredictionStatus.COMPLETED
        assert done.response["invoice_id"] == "471102"
        assert [p.id async for p in client.iter_predictions(page_size=2)][0] == submitted.id
        schema = await client.get_schema("document.invoice")
        assert "invoice_id" in schema.json_schema["properties"]


async def test_wait_failed_and_timeout(dev) -> None:
    dev.faults(processing_time=30)
    async with AsyncVlmClient(dev.api_key, dev.base_url) as client:
        slow = await client.generate("document", domain="document.markdown", url="https://x.test/slow.pdf")
        with pytest.raises(PredictionTimeoutError):
            await client.wait(slow.id, timeout=0.2, sleep=0.05)
        dev.faults(processing_time=0.1)
        bad = await client.generate("document", domain="document.invoice", file=b"nope", batch=False)
        with pytest.raises(PredictionFailedError):
            await client.wait(bad.id)
        with pytest.raises(NotFoundError):
            await client.get_prediction("missing-id")


async def test_many_concurrent_gets_with_a_bounded_pool(dev) -> None:
    with VlmClient(dev.api_key, dev.base_url) as sync:
        ids = [
            sync.generate("document", domain="document.markdown", url=f"https://x.test/{i}").id
            for i in range(20)
        ]
    async with AsyncVlmClient(dev.api_key, dev.base_url, max_connections=4) as client:
        results = await asyncio.gather(*(client.get_prediction(i) for i in ids * 5))
    assert [r.id for r in results] == ids * 5
