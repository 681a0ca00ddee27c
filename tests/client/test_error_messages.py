"""Messages a new user meets first: a base URL without ``/v1``, a server that is not there."""

from __future__ import annotations

import httpx
import pytest

from airflow_provider_vlm.client import NotFoundError, TransportError, VlmClient
from airflow_provider_vlm.client._retry import RetryPolicy

NO_RETRY = RetryPolicy(max_retries=0)


def test_a_base_url_without_v1_names_it_and_asks_about_v1(dev, tmp_path) -> None:
    assert dev.base_url.endswith("/v1")
    root = dev.base_url.removesuffix("/v1")
    doc = tmp_path / "a.pdf"
    doc.write_bytes(b"%PDF-1.4 hello")
    with VlmClient(dev.api_key, root, retry_policy=NO_RETRY) as client:
        with pytest.raises(NotFoundError) as info:
            client.files.upload(doc)  # the md5 look-up's 404 is a route 404 here, not "not stored"
    message = str(info.value)
    assert f"{root} has no route GET /files/hash/{{md5}}" in message
    assert "does the base URL end in /v1?" in message
    assert dev.api_key not in message


def test_an_unknown_id_is_not_mistaken_for_a_route(dev) -> None:
    with VlmClient(dev.api_key, dev.base_url, retry_policy=NO_RETRY) as client:
        with pytest.raises(NotFoundError) as info:
            client.predictions.get("no-such-id")
    assert "no-such-id" in str(info.value) and "/v1?" not in str(info.value)


def test_a_fastapi_style_route_404_gets_the_hint() -> None:
    """FastAPI servers answer an unknown route with ``{"detail": "Not Found"}``."""
    transport = httpx.MockTransport(lambda request: httpx.Response(404, json={"detail": "Not Found"}))
    with VlmClient(
        "secret-key", "https://api.example.com", transport=transport, retry_policy=NO_RETRY
    ) as client:
        with pytest.raises(NotFoundError) as info:
            client.list_domains()
    assert "https://api.example.com has no route GET /domains; does the base URL end in /v1?" in str(
        info.value
    )
    assert "secret-key" not in str(info.value)


def test_a_connection_error_names_host_and_port() -> None:
    with VlmClient("secret-key", "http://127.0.0.1:9/v1", retry_policy=NO_RETRY) as client:
        with pytest.raises(TransportError) as info:
            client.predictions.get("p")
    assert "cannot connect to 127.0.0.1:9" in str(info.value)
    assert "secret-key" not in str(info.value)
