"""The API key never appears in errors, logs or repr."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_vlm.client import AsyncVlmClient, VlmClient, VlmError
from airflow_provider_vlm.client._retry import RetryPolicy

SECRET = "sk-very-secret-4242"


def test_repr_hides_the_key(dev) -> None:
    with VlmClient(SECRET, dev.base_url) as client:
        assert SECRET not in repr(client)
        assert SECRET not in repr(client.settings)
    assert SECRET not in repr(AsyncVlmClient(SECRET, dev.base_url))


def test_errors_and_logs_never_carry_the_key(dev, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    policy = RetryPolicy(max_retries=2, backoff_base=0.01)
    with VlmClient(SECRET, dev.base_url, retry_policy=policy) as client:
        with pytest.raises(VlmError) as info:
            client.healthcheck()  # wrong key: 401
        messages += [str(info.value), repr(info.value), repr(info.value.__dict__)]
    with VlmClient(dev.api_key, dev.base_url, retry_policy=policy) as good:
        prediction = good.document.generate(
            url="https://x.test/a.pdf", domain="document.markdown", batch=True
        )
    dev.faults(rules=[{"method": "GET", "path": "/predictions/*", "status": 503, "count": 10}])
    with VlmClient(SECRET, dev.base_url, retry_policy=policy) as client, pytest.raises(VlmError) as info:
        client.predictions.get(prediction.id)
    messages += [str(info.value), repr(info.value.__dict__)]
    assert "retry" in caplog.text
    for text in [*messages, caplog.text]:
        assert SECRET not in text
