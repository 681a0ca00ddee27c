"""VlmHook: connection → client, async lookup, test_connection, provider registration."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys

import pytest

from airflow_provider_vlm import get_provider_info
from airflow_provider_vlm.client import AsyncVlmClient, ConfigurationError, PredictionStatus, VlmClient
from airflow_provider_vlm.hooks.vlm import VlmHook

SECRET = "sk-hook-secret-777"


def _set_conn(monkeypatch, conn_id: str, **fields) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "vlm", **fields}))


@pytest.fixture
def vlm_conn(dev, monkeypatch) -> str:
    _set_conn(
        monkeypatch,
        "vlm_test",
        host=dev.base_url,
        password=dev.api_key,
        extra={"timeout": 7, "max_retries": 2},
    )
    return "vlm_test"


def test_client_from_connection(vlm_conn, dev) -> None:
    hook = VlmHook(vlm_conn)
    client = hook.get_client()
    assert isinstance(client, VlmClient)
    assert client is hook.get_client()
    assert client.settings.timeout == 7 and client.settings.max_retries == 2
    prediction = client.generate(
        "document", domain="document.markdown", url="https://x.test/a.pdf", batch=False
    )
    assert prediction.status is PredictionStatus.COMPLETED
    hook.close()


def test_async_client_uses_the_async_lookup(vlm_conn, monkeypatch) -> None:
    def blocked(*args, **kwargs):
        raise AssertionError("the blocking connection lookup must not be used in async code")

    monkeypatch.setattr(VlmHook, "get_connection", classmethod(blocked))

    async def run() -> bool:
        client = await VlmHook(vlm_conn).get_async_client()
        assert isinstance(client, AsyncVlmClient)
        async with client:
            return await client.health()

    assert asyncio.run(run()) is True


def test_defaults_and_extras(monkeypatch) -> None:
    _set_conn(monkeypatch, "vlm_public", password="k")
    settings = VlmHook("vlm_public").client_settings()
    assert settings.base_url == "https://api.vlm.run/v1"
    assert settings.verify is True
    assert VlmHook("vlm_public").dashboard_url() == "https://app.vlm.run"
    _set_conn(
        monkeypatch,
        "vlm_extras",
        host="http://127.0.0.1:1/v1",
        password="k",
        extra={"verify": "false", "timeout": "3.5", "dashboard_url": "http://dash.test/"},
    )
    hook = VlmHook("vlm_extras")
    assert hook.client_settings().verify is False
    assert hook.client_settings().timeout == 3.5
    assert hook.dashboard_url() == "http://dash.test"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"host": "http://127.0.0.1:1/v1"}, "connection 'vlm_bad': no API key"),
        ({"host": "127.0.0.1:8765/v1", "password": "k"}, "must start with http"),
        ({"password": "k", "extra": {"timeout": "soon"}}, "extra 'timeout' must be a number"),
        ({"password": "k", "extra": {"verify": "maybe"}}, "extra 'verify' must be true or false"),
    ],
)
def test_bad_connections_name_the_connection(monkeypatch, fields, message) -> None:
    _set_conn(monkeypatch, "vlm_bad", **fields)
    with pytest.raises(ConfigurationError, match=message):
        VlmHook("vlm_bad").get_client()


def test_missing_connection_names_it() -> None:
    with pytest.raises(Exception, match="vlm_nowhere"):
        VlmHook("vlm_nowhere").get_client()


def test_test_connection_messages(vlm_conn, dev, monkeypatch, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    ok, message = VlmHook(vlm_conn).test_connection()
    assert ok and "API key was accepted" in message

    _set_conn(monkeypatch, "vlm_badkey", host=dev.base_url, password=SECRET)
    ok, message = VlmHook("vlm_badkey").test_connection()
    assert not ok and "API key was rejected" in message and SECRET not in message

    _set_conn(monkeypatch, "vlm_down", host="http://127.0.0.1:9/v1", password=SECRET)
    ok, message = VlmHook("vlm_down").test_connection()
    assert not ok and message.startswith("Cannot reach http://127.0.0.1:9/v1")

    _set_conn(monkeypatch, "vlm_nokey", host=dev.base_url)
    ok, message = VlmHook("vlm_nokey").test_connection()
    assert not ok and "no API key" in message
    assert SECRET not in caplog.text
    assert SECRET not in repr(VlmHook("vlm_badkey"))


def test_provider_info_is_complete() -> None:
    info = get_provider_info()
    assert "versions" not in info
    integrations = {i["integration-name"] for i in info["integrations"]}
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info[section]:
            assert entry["integration-name"] in integrations
    conn = info["connection-types"][0]
    assert conn["connection-type"] == "vlm"
    assert conn["ui-field-behaviour"]["hidden-fields"] == ["schema", "port", "login"]
    assert conn["ui-field-behaviour"]["relabeling"] == {"host": "Base URL", "password": "API key"}
    assert set(conn["conn-fields"]) == {"timeout", "max_retries", "verify", "dashboard_url"}


def test_airflow_lists_the_provider_and_hook(tmp_path) -> None:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    providers = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "airflow-provider-vlm" in providers.stdout
    hooks = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "hooks"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "airflow_provider_vlm.hooks.vlm.VlmHook" in hooks.stdout
