"""``autocast``: the strict check, the pydantic model built after it, and ``generate(autocast=True)``.

The near-miss table (``tests/dags/_near_misses.py``) is checked here through the sync and async
clients against the real dev server; ``tests/operators/test_autocast_dags.py`` holds the operators
to the same table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic
import pytest

from airflow_provider_vlm.client import AsyncVlmClient, CastModel, ResponseValidationError, VlmClient
from airflow_provider_vlm.client.autocast import cast_response, model_from_schema
from tests.client.conftest import route_count
from tests.dags._near_misses import CASES, DOMAIN, Case, client_verdict, responses

SCHEMAS = Path(__file__).resolve().parents[2] / "airflow_provider_vlm" / "devserver" / "schemas"

SCHEMA = {
    "title": "Order",
    "type": "object",
    "required": ["id", "lines"],
    "properties": {
        "id": {"type": "string"},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
        "total": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None},
        "status": {"enum": ["open", "paid"]},
        "kind": {"const": "order"},
        "count": {"type": ["integer", "null"]},
        "flags": {"type": "object"},
        "parent": {"$ref": "#/$defs/Node"},
        "total-due": {"type": "number"},
        "schema": {"type": "string"},
        "class": {"type": "boolean"},
        "anything": {},
    },
    "$defs": {
        "Line": {
            "type": "object",
            "required": ["sku"],
            "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
        },
        "Node": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "child": {"$ref": "#/$defs/Node"}},
        },
    },
}

GOOD = {
    "id": "o-1",
    "lines": [{"sku": "A", "qty": 2}, {"sku": "B"}],
    "total": 12.5,
    "status": "paid",
    "kind": "order",
    "count": None,
    "flags": {"x": True},
    "parent": {"name": "root", "child": {"name": "leaf"}},
    "total-due": 3,
    "schema": "v1",
    "class": False,
    "anything": [1, "two"],
    "not_in_schema": {"kept": True},
}


def test_model_reads_like_the_schema() -> None:
    model = model_from_schema(SCHEMA)
    order = model.model_validate(GOOD)
    assert isinstance(order, CastModel)
    assert order.id == "o-1" and order.total == 12.5 and order.status == "paid"
    assert order.lines[0].sku == "A" and order.lines[1].qty is None
    assert order.parent.child.name == "leaf"  # a recursive $ref
    assert order.total_due == 3.0  # a property that is not a Python name gets one
    assert order.schema_ == "v1" and order.class_ is False
    assert order.anything == [1, "two"]
    assert order.model_extra == {"not_in_schema": {"kept": True}}


def test_dict_form_round_trips() -> None:
    order = model_from_schema(SCHEMA).model_validate(GOOD)
    assert order.as_dict() == json.loads(json.dumps(GOOD))


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"id": None}, "$.id"),
        ({"lines": [{"qty": 1}]}, "$.lines[0].sku"),
        ({"status": "lost"}, "$.status"),
        ({"kind": "refund"}, "$.kind"),
        ({"count": "many"}, "$.count"),
        ({"total": "n/a"}, "$.total"),
    ],
)
def test_mismatch_names_the_field(change: dict, path: str) -> None:
    with pytest.raises(ResponseValidationError) as caught:
        cast_response(model_from_schema(SCHEMA), {**GOOD, **change}, prediction_id="p-9")
    assert caught.value.path == path and caught.value.prediction_id == "p-9"
    assert isinstance(caught.value, ValueError)


def test_missing_required_field_is_a_mismatch() -> None:
    with pytest.raises(ResponseValidationError, match=r"\$\.lines") as caught:
        cast_response(model_from_schema(SCHEMA), {"id": "o-2"})
    assert caught.value.path == "$.lines"  # the missing field's own path


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"total": "12.5"}, "$.total"),  # pydantic alone would read 12.5
        ({"total": True}, "$.total"),  # ...and 1.0
        ({"total-due": "3"}, "$.total-due"),
        ({"lines": [{"sku": "A", "qty": 2.5}]}, "$.lines[0].qty"),
        ({"lines": [{"sku": "A", "qty": "2"}]}, "$.lines[0].qty"),
        ({"class": 0}, "$.class"),
        ({"id": 1}, "$.id"),
    ],
)
def test_the_model_never_coerces_what_the_check_rejects(change: dict, path: str) -> None:
    with pytest.raises(ResponseValidationError) as caught:
        cast_response(model_from_schema(SCHEMA), {**GOOD, **change})
    assert caught.value.path == path


def test_a_cast_keeps_json_types_the_check_accepts() -> None:
    order = cast_response(model_from_schema(SCHEMA), {**GOOD, "total": 12, "count": 3})
    assert order.total == 12 and order.count == 3


def test_unusual_schemas_never_stop_a_cast() -> None:
    assert model_from_schema({"type": "array"}).model_validate({"a": 1}).as_dict() == {"a": 1}
    odd = model_from_schema({"properties": {"x": {"$ref": "http://elsewhere/x.json"}, "y": {"not": {}}}})
    assert odd.model_validate({"x": [1], "y": 2}).as_dict() == {"x": [1], "y": 2}


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.json")), ids=lambda p: p.stem)
def test_every_served_domain_schema_builds(path: Path) -> None:
    schema = json.loads(path.read_text())
    model = model_from_schema(schema, path.stem)
    assert issubclass(model, pydantic.BaseModel)
    assert set(model.model_json_schema(by_alias=True).get("properties", {})) == set(schema["properties"])


def test_generate_autocast_fetches_each_schema_once_per_client(dev, invoice_pdf: Path) -> None:
    with VlmClient(dev.api_key, dev.base_url) as client:
        dev.reset()
        first = client.document.generate(file=invoice_pdf, domain="document.invoice", autocast=True)
        second = client.document.generate(file=invoice_pdf, domain="document.invoice", autocast=True)
        assert first.response.invoice_id == second.response.invoice_id == "471102"
        assert type(first.response) is type(second.response) is client.get_type("document.invoice")
        assert first.record()["response"]["total_amount"] == 529.87  # the JSON record operators return
        assert route_count(dev.stats(), "POST /schema") == 1
        batched = client.document.generate(
            file=invoice_pdf, domain="document.invoice", batch=True, autocast=True
        )
        assert batched.response is None  # nothing to cast until it completes (as in the SDK)


def test_autocast_mismatch_is_a_typed_error(dev) -> None:
    with VlmClient(dev.api_key, dev.base_url) as client:
        # The dev server shapes results to the requested schema; a `responses` fault answers "y",
        # which is not one of the enum's values.
        dev.faults(responses={"image.caption": {"nope": "y"}})
        only = {"nope": {"type": "string", "enum": ["x-only"]}}
        config = {"json_schema": {"type": "object", "required": ["nope"], "properties": only}}
        with pytest.raises(ResponseValidationError, match=r"\$\.nope") as caught:
            client.image.generate(
                "image.caption", urls=["https://example.com/a.jpg"], config=config, autocast=True
            )
        assert caught.value.prediction_id


@pytest.fixture
def near_misses(dev: Any) -> Any:
    """The session's dev server, each case's response set for its own URL, finishing at once."""
    dev.faults(processing_time=0, responses=responses())
    return dev


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_near_misses_through_the_client(near_misses: Any, case: Case) -> None:
    with VlmClient(near_misses.api_key, near_misses.base_url) as client:
        assert client_verdict(client, case) == case.path


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_near_misses_through_the_async_client(near_misses: Any, case: Case) -> None:
    async with AsyncVlmClient(near_misses.api_key, near_misses.base_url) as client:
        try:
            prediction = await client.document.generate(
                url=case.url, domain=DOMAIN, config=case.config, autocast=True
            )
        except ResponseValidationError as exc:
            assert exc.path == case.path
        else:
            assert case.path is None and isinstance(prediction.response, CastModel)


def test_the_issue_examples_read_as_typed_values(near_misses: Any) -> None:
    """What passes is typed: attribute access, numbers as numbers, dates as the ISO text sent."""
    valid = next(c for c in CASES if c.name == "invoice_valid")
    with VlmClient(near_misses.api_key, near_misses.base_url) as client:
        prediction = client.document.generate(url=valid.url, domain=DOMAIN, autocast=True)
    assert prediction.response.total_amount == 529.87
    assert prediction.response.invoice_issue_date == "2018-03-05"
    assert prediction.response.items[0].total_price == 198
