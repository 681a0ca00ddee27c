"""The provider as this Airflow line sees it: installed from the wheel, registered, its form valid."""

from __future__ import annotations

import importlib.metadata
import json
import os
import warnings
from pathlib import Path

import pytest

from conftest import Server

DIST = "airflow-provider-vlm"
AIRFLOW_VERSION = tuple(int(part) for part in importlib.metadata.version("apache-airflow").split(".")[:2])


def test_this_line_runs_the_airflow_the_driver_asked_for() -> None:
    assert importlib.metadata.version("apache-airflow") == os.environ["VLM_VERSIONS_AIRFLOW"]


def test_provider_comes_from_the_built_wheel_not_the_clone() -> None:
    import airflow_provider_vlm

    dist = importlib.metadata.distribution(DIST)
    direct_url = json.loads(dist.read_text("direct_url.json") or "{}")
    assert not direct_url.get("dir_info", {}).get("editable"), direct_url
    assert direct_url.get("url", "").endswith(".whl"), direct_url
    package = Path(airflow_provider_vlm.__file__).resolve()
    assert "site-packages" in package.parts, package


def test_providers_manager_registers_hook_and_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert DIST in manager.providers, sorted(manager.providers)
    with warnings.catch_warnings():
        # 3.3 points workers to the Task SDK's manager; the api-server's form still reads this one.
        warnings.simplefilter("ignore")
        hook = manager.hooks["vlm"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_vlm.hooks.vlm.VlmHook"
    assert hook.connection_type == "vlm"
    # The connection form: host relabelled "Base URL", password "API key". From 3.2 Airflow reads
    # it from get_provider_info(); before, from the hook's get_ui_field_behaviour(), and only where
    # flask_appbuilder is installed (a plain `apache-airflow` 3.0/3.1 install has none).
    if AIRFLOW_VERSION >= (3, 2):
        behaviour = manager.field_behaviours["vlm"]
    else:
        from airflow_provider_vlm.hooks.vlm import VlmHook

        behaviour = VlmHook.get_ui_field_behaviour()  # type: ignore[attr-defined]
    assert behaviour["relabeling"]["host"] == "Base URL"
    assert behaviour["relabeling"]["password"] == "API key"
    # Port is shown and asks for 0: Airflow 3.3's Test button needs a stored port.
    assert "port" not in behaviour["hidden_fields"] and behaviour["relabeling"]["port"].startswith("Port (0")


def test_provider_info_is_valid_for_this_airflow() -> None:
    import jsonschema
    from airflow import providers_manager

    from airflow_provider_vlm import get_provider_info

    info = get_provider_info()
    schema_path = Path(providers_manager.__file__).with_name("provider_info.schema.json")
    if not schema_path.exists():
        pytest.fail(f"this Airflow ships no provider_info.schema.json beside {providers_manager.__file__}")
    jsonschema.validate(info, json.loads(schema_path.read_text()))
    assert info["package-name"] == DIST
    assert {c["connection-type"] for c in info["connection-types"]} == {"vlm"}
    integrations = {i["integration-name"] for i in info.get("integrations", [])}
    for entry in info.get("triggers", []):
        assert entry["integration-name"] in integrations, entry


def test_hook_tests_the_connection(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_vlm.hooks.vlm import VlmHook

    connection = {"conn_type": "vlm", "host": server.base_url, "password": server.api_key}
    monkeypatch.setenv("AIRFLOW_CONN_VLM_DEFAULT", json.dumps(connection))
    ok, message = VlmHook().test_connection()
    assert ok, message
