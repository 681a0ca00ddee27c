"""Domains come from the platform's catalog (vlmrun-hub); an unknown domain is refused and never billed."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest
from devserver_helpers import make_pdf, upload

from airflow_provider_vlm.devserver import catalog

PLATFORM_ONLY = {"document.markdown", "image.caption", "audio.transcription", "video.transcription"}


def _hub_names() -> set[str]:
    from vlmrun.hub.registry import registry

    return set(registry.list_schemas())


def test_domains_are_the_catalog_plus_the_platform_only_ones(api: httpx.Client) -> None:
    hub = _hub_names()
    assert {"document.invoice", "document.receipt", "logistics.bill-of-lading"} <= hub
    listed = [d["domain"] for d in api.get("/domains").json()]
    assert listed == sorted(listed)
    assert set(listed) == hub | PLATFORM_ONLY


def test_hub_routes_answer_as_the_hub_server(api: httpx.Client) -> None:
    from vlmrun.hub.version import __version__

    assert api.get("/hub/info").json() == {"version": __version__}
    listed = api.get("/hub/domains").json()
    assert {d["domain"] for d in listed} == _hub_names()
    receipt = next(d for d in listed if d["domain"] == "document.receipt")
    assert set(receipt) == {"domain", "description", "supported_inputs", "tags", "sample_data"}
    assert "document" in receipt["supported_inputs"]
    body = api.post("/hub/schema", json={"domain": "document.receipt", "gql_stmt": None}).json()
    assert body["domain"] == "document.receipt"
    assert body["schema_version"] == __version__
    assert len(body["schema_hash"]) == 8 and body["gql_stmt"].startswith("{")
    assert {"merchant_name", "total", "items"} <= set(body["json_schema"]["properties"])
    missing = api.post("/hub/schema", json={"domain": "document.reciept"})
    assert missing.status_code == 404
    assert "'document.receipt'" in missing.json()["error"]["message"]
    # Platform-only domains have no hub schema.
    assert api.post("/hub/schema", json={"domain": "document.markdown"}).status_code == 404


def test_models_list_one_entry_per_domain(api: httpx.Client) -> None:
    models = api.get("/models").json()
    assert {m["domain"] for m in models} == set(catalog.known())
    assert {m["model"] for m in models} == {"vlm-1"}


def test_schema_route_serves_the_catalog_schema(api: httpx.Client) -> None:
    body = api.post("/schema", json={"domain": "document.bank-statement", "config": {}}).json()
    from vlmrun.hub.registry import registry

    assert body["json_schema"] == registry["document.bank-statement"].model_json_schema()
    refused = api.post("/schema", json={"domain": "document.invoicee", "config": {}})
    assert refused.status_code == 404
    assert "did you mean 'document.invoice'" in refused.json()["error"]["message"]


@pytest.mark.parametrize("media", ["document", "image"])
def test_unknown_domain_is_refused_before_anything_is_created(
    dev: Any, api: httpx.Client, media: str
) -> None:
    dev.reset(state=True)
    if media == "document":
        file_id = upload(api, make_pdf(["Invoice 1"]))["id"]
        body: dict[str, Any] = {"file_id": file_id}
    else:
        body = {"images": ["https://example.com/a.png"]}
    answer = api.post(f"/{media}/generate", json={**body, "domain": "document.invoicee", "batch": True})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("unknown domain 'document.invoicee'; did you mean 'document.invoice'?")
    assert dev.stats()["predictions_created"] == 0
    assert api.get("/predictions").json() == []


def test_every_catalog_domain_without_an_engine_gives_a_valid_result(start_devserver: Any) -> None:
    """No engine: every field is null where allowed, else a typed value; the result validates."""
    with start_devserver("--port", "0", "--processing-time", "0", "--api-key", "k") as server:
        with server.client() as api:
            _check_every_domain(api)


def _check_every_domain(api: httpx.Client) -> None:
    file_id = upload(api, make_pdf(["Some document"]))["id"]
    for domain in sorted(_hub_names() - {"document.invoice"}):
        body = api.post("/document/generate", json={"file_id": file_id, "domain": domain}).json()
        assert body["status"] == "completed", (domain, body)
        response = dict(body["response"])
        mark = response.pop("_devserver")
        assert mark["engine"] == "generic"
        schema = catalog.get(domain).json_schema  # type: ignore[union-attr]
        jsonschema.validate(response, schema)
        filled = mark["fields"]
        assert sorted(filled["typed"] + filled["null"]) == sorted(schema["properties"]), domain
