"""VlmHook: connection → client, async lookup, test_connection, provider registration."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import pkgutil
import subprocess
import sys
from importlib.metadata import metadata

import pytest

from airflow_provider_vlm import PORT_LABEL, get_provider_info
from airflow_provider_vlm.client import AsyncVlmClient, ConfigurationError, PredictionStatus, VlmClient
from airflow_provider_vlm.hooks.vlm import VlmHook, dashboard_url_from, settings_from_connection
from tests.ui.docs_site import site_url

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
    prediction = client.document.generate(domain="document.markdown", url="https://x.test/a.pdf")
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
            return await client.healthcheck()

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
    assert not ok and "API key rejected" in message and "vlm_badkey" not in message and SECRET not in message

    _set_conn(monkeypatch, "vlm_down", host="http://127.0.0.1:9/v1", password=SECRET)
    ok, message = VlmHook("vlm_down").test_connection()
    assert not ok and message.startswith("Cannot reach http://127.0.0.1:9/v1")

    _set_conn(monkeypatch, "vlm_nokey", host=dev.base_url)
    ok, message = VlmHook("vlm_nokey").test_connection()
    assert not ok and message.startswith("No API key")
    assert SECRET not in caplog.text
    assert SECRET not in repr(VlmHook("vlm_badkey"))


def _public_modules(package: str) -> list[str]:
    """Every public module of a subpackage (``_private`` helpers are not registered)."""
    mod = importlib.import_module(package)
    return sorted(
        f"{package}.{info.name}"
        for info in pkgutil.iter_modules(mod.__path__)
        if not info.name.startswith("_")
    )


def test_provider_info_is_complete() -> None:
    info = get_provider_info()
    assert "versions" not in info
    integrations = {i["integration-name"] for i in info["integrations"]}
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info[section]:
            assert entry["integration-name"] in integrations
        # Derived from the package, so a new operator (or sensor, trigger, hook) cannot be forgotten.
        registered = sorted(m for entry in info[section] for m in entry["python-modules"])
        assert registered == _public_modules(f"airflow_provider_vlm.{section}"), section
    conn = info["connection-types"][0]
    assert conn["connection-type"] == "vlm"
    assert conn["ui-field-behaviour"]["hidden-fields"] == ["schema", "login"]  # Port: the Test button
    assert conn["ui-field-behaviour"]["relabeling"] == {
        "host": "Base URL",
        "password": "API key",
        "port": PORT_LABEL,
    }
    assert set(conn["conn-fields"]) == {
        "timeout",
        "max_retries",
        "verify",
        "dashboard_url",
        "allow_training",
        "environment",
    }


def test_provider_info_links_our_docs_site() -> None:
    url = site_url()
    assert get_provider_info()["documentation-url"] == url
    # What Airflow actually shows: it replaces the value with the distribution's Documentation URL.
    project_urls = dict(
        entry.split(", ", 1) for entry in metadata("airflow-provider-vlm").get_all("Project-URL") or []
    )
    assert project_urls.get("Documentation") == url


def test_form_defaults_are_the_hooks_defaults() -> None:
    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    defaults = settings_from_connection("vlm_any", None, "k", {})
    assert fields["timeout"]["schema"]["default"] == defaults.timeout
    assert fields["max_retries"]["schema"]["default"] == defaults.max_retries
    assert fields["verify"]["schema"]["default"] is defaults.verify is True
    assert "default" not in fields["dashboard_url"]["schema"]  # it depends on the Base URL


def test_null_extras_read_as_defaults(monkeypatch) -> None:
    nulls = {"timeout": None, "max_retries": None, "verify": None, "dashboard_url": None}
    _set_conn(monkeypatch, "vlm_nulls", password="k", extra=nulls)
    hook = VlmHook("vlm_nulls")
    assert hook.client_settings() == settings_from_connection("vlm_nulls", None, "k", {})
    assert hook.dashboard_url() == "https://app.vlm.run"


@pytest.mark.parametrize(
    ("host", "extra", "expected"),
    [
        (None, {}, "https://app.vlm.run"),
        ("https://api.vlm.run/v1/", {}, "https://app.vlm.run"),
        ("http://127.0.0.1:8765/v1", {}, None),
        ("http://127.0.0.1:8765/v1", {"dashboard_url": "https://dash.test/"}, "https://dash.test"),
    ],
)
def test_dashboard_only_for_the_public_api_or_when_set(host, extra, expected) -> None:
    assert dashboard_url_from(host, extra) == expected


@pytest.mark.parametrize("conn_id", ["XBZtQCBY", "vlm_mine"])
def test_test_connection_never_names_the_connection(monkeypatch, conn_id) -> None:
    # The api-server tests a copy under a random id (e.g. XBZtQCBY); the CLI under the user's own.
    _set_conn(monkeypatch, conn_id, host="127.0.0.1:8765/v1", password="k")
    ok, message = VlmHook(conn_id).test_connection()
    assert not ok
    assert message == "Base URL (host) must start with http:// or https://, got '127.0.0.1:8765/v1'"
    _set_conn(monkeypatch, conn_id, host="http://127.0.0.1:9/v1")
    ok, message = VlmHook(conn_id).test_connection()
    assert not ok and message.startswith("No API key") and conn_id not in message


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


def test_provider_info_imports_nothing_heavy() -> None:
    """Every Airflow process calls get_provider_info() at start: it must not pull in the client."""
    code = (
        "import sys, airflow_provider_vlm as p; p.get_provider_info(); "
        "print(sorted(m for m in sys.modules if m.startswith('airflow_provider_vlm.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
