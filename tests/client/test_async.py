"""The async client: the same operations, driven by asyncio."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_vlm.client import (
    AsyncVlmClient,
    NotFoundError,
    PredictionStatus,
    PredictionTimeoutError,
    VlmClient,
)


async def test_get_list_wait(dev, invoice_pdf) -> None:
    async with AsyncVlmClient(dev.api_key, dev.base_url) as client:
        assert await client.healthcheck()
        submitted = await client.document.generate(file=invoice_pdf, domain="document.invoice", batch=True)
        assert (await client.predictions.get(submitted.id)).id == submitted.id
        assert submitted.id in [p.id for p in await client.predictions.list(limit=5)]
        done = await client.predictions.wait(submitted.id, timeout=30, sleep=0.2)
        assert done.status is PredictionStatus.COMPLETED
        assert done.response["invoice_id"] == "471102"
        assert [p.id async for p in client.predictions.iter(page_size=2)][0] == submitted.id
        schema = await client.get_schema("document.invoice")
        assert "invoice_id" in schema.json_schema["properties"]


async def test_wait_failed_and_timeout(dev) -> None:
    dev.faults(processing_time=30)
    async with AsyncVlmClient(dev.api_key, dev.base_url) as client:
        slow = await client.document.generate(
            url="https://x.test/slow.pdf", domain="document.markdown", batch=True
        )
        with pytest.raises(PredictionTimeoutError):
            await client.predictions.wait(slow.id, timeout=0.2, sleep=0.05)
        dev.faults(processing_time=0.1)
        bad = await client.document.generate(file=b"nope", domain="document.invoice")
        assert (await client.predictions.wait(bad.id)).status == "failed"
        with pytest.raises(NotFoundError):
            await client.predictions.get("missing-id")


async def test_many_concurrent_gets_with_a_bounded_pool(dev) -> None:
    with VlmClient(dev.api_key, dev.base_url) as sync:
        ids = [
            sync.document.generate(url=f"https://x.test/{i}", domain="document.markdown", batch=True).id
            for i in range(20)
        ]
    async with AsyncVlmClient(dev.api_key, dev.base_url, max_connections=4) as client:
        results = await asyncio.gather(*(client.predictions.get(i) for i in ids * 5))
    assert [r.id for r in results] == ids * 5
