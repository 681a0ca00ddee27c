"""A rejected key names the connection to fix (task errors, trigger events, the Test button), never the key.

Also the form's Port: Airflow's Test button needs a value there, and 0 means "the Base URL's port".
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

import pytest

from airflow_provider_vlm.client import AuthenticationError, ConfigurationError
from airflow_provider_vlm.hooks.vlm import VlmHook, base_url_from, settings_from_connection
from airflow_provider_vlm.triggers.prediction import PredictionTrigger

WRONG_KEY = "sk-wrong-key-31337"


def _set_conn(monkeypatch, conn_id: str, **fields) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "vlm", **fields}))


@pytest.fixture
def wrong_key_conn(dev, monkeypatch) -> str:
    _set_conn(monkeypatch, "vlm_wrong_key", host=dev.base_url, password=WRONG_KEY)
    return "vlm_wrong_key"


def _assert_names_connection(text: str, conn_id: str) -> None:
    assert f"connection {conn_id!r}: API key rejected" in text, text
    assert WRONG_KEY not in text


def test_task_client_error_names_the_connection(wrong_key_conn) -> None:
    hook = VlmHook(wrong_key_conn)
    with pytest.raises(AuthenticationError) as info:
        hook.get_client().predictions.get("pred-1")
    hook.close()
    assert info.value.status_code == 401
    _assert_names_connection(str(info.value), wrong_key_conn)
    assert WRONG_KEY not in repr(info.value) and WRONG_KEY not in info.value.message


def test_async_client_error_names_the_connection(wrong_key_conn) -> None:
    async def run() -> AuthenticationError:
        async with await VlmHook(wrong_key_conn).get_async_client() as client:
            with pytest.raises(AuthenticationError) as info:
                await client.predictions.get("pred-1")
        return info.value

    _assert_names_connection(str(asyncio.run(run())), wrong_key_conn)


def test_trigger_event_names_the_connection(wrong_key_conn) -> None:
    trigger = PredictionTrigger(
        prediction_ids=["pred-1"], vlm_conn_id=wrong_key_conn, deadline=time.time() + 60, poll_interval=0.1
    )

    async def first_event() -> dict:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    event = asyncio.run(first_event())
    assert event["status"] == "error", event
    _assert_names_connection(event["message"], wrong_key_conn)


def test_test_connection_says_the_key_was_rejected(wrong_key_conn) -> None:
    """The Test button tests a copy under a random id, so its answer names no connection."""
    ok, message = VlmHook(wrong_key_conn).test_connection()
    assert not ok
    assert message.endswith("refused the connection's key.") and message.startswith(
        "API key rejected (HTTP 401): "
    )
    assert wrong_key_conn not in message and WRONG_KEY not in message


def test_masked_key_is_named_as_such(dev, monkeypatch) -> None:
    """Airflow 3.0's test route uses the request as sent: a listed row carries the masked key."""
    _set_conn(monkeypatch, "vlm_masked", host=dev.base_url, password="***")
    ok, message = VlmHook("vlm_masked").test_connection()
    assert not ok and message.startswith("The API key arrived masked")
    assert "airflow connections test <connection id>" in message


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("http://127.0.0.1:8765/v1", None, "http://127.0.0.1:8765/v1"),
        ("http://127.0.0.1:8765/v1", 0, "http://127.0.0.1:8765/v1"),  # what the Test button sends
        ("http://127.0.0.1:8765/v1", 8765, "http://127.0.0.1:8765/v1"),
        ("http://127.0.0.1/v1", 8765, "http://127.0.0.1:8765/v1"),
        ("http://[::1]/v1", 8765, "http://[::1]:8765/v1"),
        (None, 0, "https://api.vlm.run/v1"),
    ],
)
def test_port_zero_or_empty_keeps_the_base_urls(host, port, expected) -> None:
    assert base_url_from("vlm_x", host, port) == expected
    assert settings_from_connection("vlm_x", host, "k", {}, port).base_url == expected


def test_port_that_contradicts_the_base_url_is_an_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        base_url_from("vlm_x", "http://127.0.0.1:8765/v1", 8080)
    assert str(info.value).startswith("connection 'vlm_x': Port 8080 differs from the Base URL's port 8765")


def test_connection_port_reaches_the_client(dev, monkeypatch) -> None:
    """A Base URL without a port and the port in Port, as Airflow's HTTP connections are often written."""
    port = urlsplit(dev.base_url).port
    bare = dev.base_url.replace(f":{port}", "")
    _set_conn(monkeypatch, "vlm_split", host=bare, port=port, password=dev.api_key)
    ok, message = VlmHook("vlm_split").test_connection()
    assert ok, message
    assert message == f"Connected to {dev.base_url}; the API key was accepted."
