"""The connection form makes the privacy choice visible: ``allow_training`` and ``environment``
as the platform's defaults, labelled so; what the form stores is what the tasks send."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_vlm.hooks.vlm import metadata_from_connection

pytestmark = pytest.mark.timeout(600)


def _vlm_extras(api_server: Any) -> dict[str, Any]:
    response = api_server.http.get("/ui/connections/hook_meta")
    assert response.status_code == 200, response.text
    (meta,) = [m for m in response.json() if m["connection_type"] == "vlm"]
    extras: dict[str, Any] = meta["extra_fields"]
    return extras


def test_the_form_shows_the_platforms_privacy_defaults(api_server: Any) -> None:
    extras = _vlm_extras(api_server)
    training = extras["allow_training"]
    assert training["value"] is True  # the platform's default, shown as it is
    assert training["schema"]["title"] == "Allow training on your data (platform default: on)"
    assert "personal data" in training["description"]
    environment = extras["environment"]
    assert environment["value"] == "dev"
    assert environment["schema"]["enum"] == ["dev", "staging", "prod"]

    # Left as shown, the form stores the platform's defaults and the tasks send exactly them;
    # switched off, every prediction through the connection says so.
    shown = {name: field["value"] for name, field in extras.items()}
    assert metadata_from_connection("vlm_form", shown) == {"allow_training": True, "environment": "dev"}
    body = {
        "conn_type": "vlm",
        "connection_id": "vlm_private_form",
        "host": "http://127.0.0.1:9/v1",
        "password": "k",
        "extra": json.dumps({**shown, "allow_training": False}),
    }
    assert api_server.http.post("/api/v2/connections", json=body).status_code == 201
    stored = json.loads(api_server.http.get("/api/v2/connections/vlm_private_form").json()["extra"])
    assert metadata_from_connection("vlm_private_form", stored) == {
        "allow_training": False,
        "environment": "dev",
    }
