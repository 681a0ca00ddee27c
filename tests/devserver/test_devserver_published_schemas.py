"""``POST /v1/_dev/schemas``: a test publishes a new version of a domain's schema (schema drift)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest


@pytest.fixture
def admin(dev: Any) -> Iterator[httpx.Client]:
    """The admin routes (no key on loopback); the published schemas are withdrawn afterwards."""
    with httpx.Client(base_url=dev.base_url, timeout=10.0) as client:
        yield client
    dev.reset()


def schema(api: httpx.Client, domain: str = "document.receipt") -> dict[str, Any]:
    reply = api.post("/schema", json={"domain": domain, "config": {}})
    reply.raise_for_status()
    found: dict[str, Any] = reply.json()
    return found


def test_a_published_schema_is_served_with_its_version_and_a_new_hash(
    api: httpx.Client, admin: httpx.Client, dev: Any
) -> None:
    before = schema(api)
    changed = {
        **before["json_schema"],
        "properties": {**before["json_schema"]["properties"], "tip": {"type": "number"}},
    }
    reply = admin.post(
        "/_dev/schemas", json={"domain": "document.receipt", "json_schema": changed, "version": "2.0.0"}
    )
    assert reply.status_code == 200, reply.text
    after = schema(api)
    assert after["json_schema"] == changed and after["schema_version"] == "2.0.0"
    assert (
        after["schema_hash"] != before["schema_hash"] and reply.json()["schema_hash"] == after["schema_hash"]
    )
    assert (
        schema(api, "document.invoice")["schema_version"] == schema(api, "document.invoice")["schema_version"]
    )
    assert admin.get("/_dev/schemas").json() == {"document.receipt": {"schema_version": "2.0.0"}}

    assert admin.delete("/_dev/schemas/document.receipt").status_code == 200
    assert schema(api) == before
    admin.post(
        "/_dev/schemas", json={"domain": "document.receipt", "json_schema": changed, "version": "2.0.0"}
    )
    dev.reset()  # a reset restores the catalog's schemas too
    assert schema(api) == before


def test_a_custom_json_schema_is_not_replaced(api: httpx.Client, admin: httpx.Client) -> None:
    own = {"type": "object", "properties": {"total": {"type": "number"}}}
    before = api.post("/schema", json={"domain": "document.receipt", "config": {"json_schema": own}}).json()
    admin.post(
        "/_dev/schemas",
        json={"domain": "document.receipt", "json_schema": {"type": "object"}, "version": "3"},
    )
    after = api.post("/schema", json={"domain": "document.receipt", "config": {"json_schema": own}}).json()
    assert after == before and after["json_schema"] == own


def test_an_unknown_domain_or_a_bad_body_is_refused(admin: httpx.Client) -> None:
    unknown = admin.post(
        "/_dev/schemas", json={"domain": "document.reciept", "json_schema": {}, "version": "1"}
    )
    assert unknown.status_code == 404 and "document.receipt" in unknown.text
    assert (
        admin.post("/_dev/schemas", json={"domain": "document.receipt", "json_schema": {}}).status_code == 422
    )
