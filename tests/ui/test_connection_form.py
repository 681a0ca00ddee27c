"""The connection form and its test button, driven through the real api-server the web UI uses.

The payloads are the ones Airflow 3.3's UI builds: the add form posts the standard fields it
shows (empty ones left out) and ``extra`` as the JSON of every declared extra's value; the row's
test button posts the listed connection back with ``port: Number(port)`` (``0`` for a connection
stored without a port) and the masked password.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_vlm import PORT_LABEL, PORT_PLACEHOLDER
from airflow_provider_vlm.hooks.vlm import settings_from_connection
from tests.ui.docs_site import site_url

pytestmark = pytest.mark.timeout(600)


def _vlm_meta(api_server) -> dict[str, Any]:
    response = api_server.http.get("/ui/connections/hook_meta")
    assert response.status_code == 200, response.text
    found = [m for m in response.json() if m["connection_type"] == "vlm"]
    assert found, "connection type 'vlm' missing from the form's field metadata"
    meta: dict[str, Any] = found[0]
    return meta


def _form_extra(meta: dict[str, Any]) -> str:
    """What the add form stores as ``extra`` when the user leaves the extras as shown."""
    values = {name: field["value"] for name, field in meta["extra_fields"].items()}
    return json.dumps(values, indent=2)


def _add_through_form(
    api_server, conn_id: str, host: str, api_key: str, extra: str, port: int | None = None
) -> None:
    """The add form's POST: a field left empty is left out (``port`` too)."""
    body = {"conn_type": "vlm", "connection_id": conn_id, "host": host, "password": api_key, "extra": extra}
    if port is not None:
        body["port"] = port
    response = api_server.http.post("/api/v2/connections", json=body)
    assert response.status_code == 201, response.text


def _test_button(api_server, conn_id: str) -> tuple[int, dict[str, Any]]:
    """The Connections list's test icon: the listed row posted back as the UI does."""
    row = api_server.http.get(f"/api/v2/connections/{conn_id}").json()
    body = {
        "conn_type": row["conn_type"],
        "connection_id": row["connection_id"],
        "description": row.get("description") or "",
        "extra": row.get("extra") or "{}",
        "host": row.get("host") or "",
        "login": row.get("login") or "",
        "password": row.get("password") or "",
        "port": row["port"] or 0,  # JavaScript's Number(null) is 0
        "schema": "",
    }
    response = api_server.http.post("/api/v2/connections/test", json=body)
    return response.status_code, response.json()


def _store_port_zero(api_server, conn_id: str) -> None:
    """What the edit form sends when the user enters 0 in Port (only the changed field)."""
    response = api_server.http.patch(
        f"/api/v2/connections/{conn_id}",
        params={"update_mask": "port"},
        json={"connection_id": conn_id, "conn_type": "vlm", "port": 0},
    )
    assert response.status_code == 200, response.text


def test_form_shows_what_the_hook_does(api_server) -> None:
    meta = _vlm_meta(api_server)
    assert meta["hook_name"] == "VLM Run"
    standard = meta["standard_fields"]
    assert standard["host"]["title"] == "Base URL" and standard["password"]["title"] == "API key"
    assert all(standard[name]["hidden"] for name in ("login", "url_schema"))
    # A standard field carries no value (a provider cannot give Port a default), so Port is shown
    # and says what to enter: the Test button needs it.
    assert set(standard["port"]) == {"hidden", "title", "placeholder"}
    assert not standard["port"]["hidden"]
    assert standard["port"]["title"] == PORT_LABEL and standard["port"]["placeholder"] == PORT_PLACEHOLDER

    extras = meta["extra_fields"]
    assert extras["verify"]["value"] is True  # the switch renders on: verification is on
    assert extras["verify"]["schema"]["title"] == "Verify TLS"
    defaults = settings_from_connection("vlm_any", None, "k", {})
    assert extras["timeout"]["value"] == defaults.timeout
    assert extras["max_retries"]["value"] == defaults.max_retries
    assert extras["dashboard_url"]["value"] is None  # no default: it depends on the Base URL

    stored = json.loads(_form_extra(meta))
    assert [name for name, value in stored.items() if value is None] == ["dashboard_url"]
    assert settings_from_connection("vlm_any", None, "k", stored) == defaults


def test_test_button_on_a_form_made_connection(api_server, dev) -> None:
    """Port 0, as the form asks for it: the button works with the right key and says a wrong one is rejected."""
    meta = _vlm_meta(api_server)
    _add_through_form(api_server, "vlm_form", dev.base_url, dev.api_key, _form_extra(meta), port=0)
    row = api_server.http.get("/api/v2/connections/vlm_form").json()
    assert row["port"] == 0 and json.loads(row["extra"])["verify"] is True
    status, answer = _test_button(api_server, "vlm_form")
    assert status == 200, answer
    assert answer["status"] is True
    assert answer["message"] == f"Connected to {dev.base_url}; the API key was accepted."

    _add_through_form(api_server, "vlm_form_bad", dev.base_url, "sk-not-this-one", _form_extra(meta), port=0)
    status, answer = _test_button(api_server, "vlm_form_bad")
    assert status == 200 and answer["status"] is False, answer
    # The api-server tests a copy under a random id: the answer names no connection.
    assert answer["message"] == f"API key rejected (HTTP 401): {dev.base_url} refused the connection's key."


def test_airflow_still_refuses_a_connection_saved_without_port(api_server, dev) -> None:
    """Airflow 3.3's own rule, the reason the form asks for Port: the button sends ``port: 0``, the
    stored port is empty, the password is masked, so the api-server refuses to reuse the stored
    key. If this starts failing, Airflow fixed it: Port can be hidden again and the docs' note go."""
    meta = _vlm_meta(api_server)
    _add_through_form(api_server, "vlm_no_port", dev.base_url, dev.api_key, _form_extra(meta))
    assert api_server.http.get("/api/v2/connections/vlm_no_port").json()["port"] is None
    status, answer = _test_button(api_server, "vlm_no_port")
    assert status == 400, answer
    assert "host or port to test differs from the stored connection" in answer["detail"]

    _store_port_zero(api_server, "vlm_no_port")  # entering 0 in the edit form
    status, answer = _test_button(api_server, "vlm_no_port")
    assert status == 200 and answer["status"] is True, answer


def test_test_button_does_not_name_the_temporary_connection(api_server) -> None:
    meta = _vlm_meta(api_server)
    _add_through_form(api_server, "vlm_bad_url", "127.0.0.1:8765/v1", "k", _form_extra(meta))
    _store_port_zero(api_server, "vlm_bad_url")
    status, answer = _test_button(api_server, "vlm_bad_url")
    assert status == 200 and answer["status"] is False, answer
    # The api-server tests a copy under a random id; the user only knows "vlm_bad_url".
    assert answer["message"] == (
        "Base URL (host) must start with http:// or https://, got '127.0.0.1:8765/v1'"
    )


def test_providers_page_links_our_docs(api_server) -> None:
    response = api_server.http.get("/api/v2/providers", params={"limit": 100})
    assert response.status_code == 200, response.text
    ours = [p for p in response.json()["providers"] if p["package_name"] == "airflow-provider-vlm"]
    assert ours and ours[0]["documentation_url"] == site_url()


def test_cli_made_connection_with_port_zero(api_server, dev) -> None:
    """The docs' other way: ``airflow connections add … --conn-port 0``, then the button works."""
    api_server.airflow.cli(
        "connections", "add", "vlm_cli", "--conn-type", "vlm", "--conn-host", dev.base_url,
        "--conn-password", dev.api_key, "--conn-port", "0",
    )  # fmt: skip
    status, answer = _test_button(api_server, "vlm_cli")
    assert status == 200 and answer["status"] is True, answer
