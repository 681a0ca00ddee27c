"""Results honour the requested schema: a user's model gets the real values an engine extracted."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from devserver_helpers import make_pdf, upload
from pydantic import BaseModel, Field, ValidationError
from pypdf import PdfReader

from airflow_provider_vlm.devserver import shaping
from tests.invoices import InvoiceSet


class InvoiceSummary(BaseModel):
    """A user's model: a subset of the invoice fields, some under other names."""

    invoice_id: str
    total_amount: float
    invoice_number: str  # the same meaning as invoice_id
    seller_name: str | None = None
    invoice_date: str | None = None
    reviewed: bool  # nothing extracted: a typed value
    pages: int = Field(ge=1)  # nothing extracted: the smallest value the bound allows


class SmallInvoice(BaseModel):
    """A model the invoice cannot satisfy: its total is far above the bound."""

    invoice_id: str
    total_amount: float = Field(lt=1)


@pytest.fixture
def invoice(invoice_set: InvoiceSet) -> Path:
    """The generated Factur-X invoice (a real embedded CII XML, read below on its own)."""
    return invoice_set.primary.path


def _facts(invoice: Path) -> dict[str, str]:
    xml = PdfReader(io.BytesIO(invoice.read_bytes())).attachments["factur-x.xml"][0]
    root = ET.fromstring(xml)
    return {
        "id": root.findtext("{*}ExchangedDocument/{*}ID", "").strip(),
        "total": root.findtext(".//{*}GrandTotalAmount", "").strip(),
        "seller": root.findtext(".//{*}SellerTradeParty/{*}Name", "").strip(),
    }


def _generate(
    api: httpx.Client, file_id: str, schema: dict[str, Any], domain: str = "document.invoice"
) -> Any:
    body = api.post(
        "/document/generate", json={"file_id": file_id, "domain": domain, "config": {"json_schema": schema}}
    ).json()
    assert body["status"] == "completed", body
    return body["response"]


def test_user_model_on_an_einvoice_gets_its_real_id_and_total(api: httpx.Client, invoice: Path) -> None:
    facts = _facts(invoice)
    file_id = upload(api, invoice.read_bytes(), invoice.name)["id"]
    response = _generate(api, file_id, InvoiceSummary.model_json_schema())
    summary = InvoiceSummary.model_validate(response)
    assert summary.invoice_id == facts["id"] == summary.invoice_number
    assert summary.total_amount == pytest.approx(float(facts["total"]))
    assert summary.seller_name == facts["seller"]
    assert summary.invoice_date is not None and len(summary.invoice_date) == 10
    assert summary.pages == 1
    mark = response["_devserver"]
    assert mark["engine"] == "invoice-xml" and mark["schema"] == "config.json_schema"
    assert set(mark["fields"]["extracted"]) == {
        "invoice_id",
        "total_amount",
        "invoice_number",
        "seller_name",
        "invoice_date",
    }
    assert mark["fields"]["typed"] == ["reviewed", "pages"]


def test_a_model_the_response_cannot_satisfy_fails_with_the_field_path(
    api: httpx.Client, invoice: Path
) -> None:
    file_id = upload(api, invoice.read_bytes(), invoice.name)["id"]
    response = _generate(api, file_id, SmallInvoice.model_json_schema())
    with pytest.raises(ValidationError) as caught:
        SmallInvoice.model_validate(response)
    errors = caught.value.errors()
    assert [e["loc"] for e in errors] == [("total_amount",)]
    assert response["total_amount"] == pytest.approx(float(_facts(invoice)["total"]))


def test_nested_items_are_mapped_by_meaning(api: httpx.Client, invoice: Path) -> None:
    schema = {
        "type": "object",
        "properties": {
            "number": {"type": "string"},
            "line_items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "qty": {"type": "number"}},
                    "required": ["name", "qty"],
                },
            },
        },
        "required": ["number", "line_items"],
        "additionalProperties": False,
    }
    file_id = upload(api, invoice.read_bytes(), invoice.name)["id"]
    response = _generate(api, file_id, schema)
    jsonschema.validate(response, schema)  # additionalProperties false: no marker added
    assert response["number"] == _facts(invoice)["id"]
    assert response["line_items"] and all(item["name"] for item in response["line_items"])


def test_a_responses_fault_still_overrides(dev: Any, api: httpx.Client) -> None:
    dev.faults(responses={"document.receipt": {"total": 0}})
    file_id = upload(api, make_pdf(["Receipt"]))["id"]
    schema = {"type": "object", "properties": {"total": {"type": "number", "exclusiveMinimum": 0}}}
    response = _generate(api, file_id, schema, domain="document.receipt")
    assert response["total"] == 0 and response["_devserver"]["engine"] == "fault"


@pytest.mark.parametrize(
    ("schema", "valid"),
    [
        ({"type": "string", "minLength": 4}, "xxxx"),
        ({"type": "integer", "exclusiveMinimum": 3, "maximum": 10}, 4),
        ({"type": "number", "exclusiveMaximum": 0}, -1.0),
        ({"type": "string", "format": "date"}, "1970-01-01"),
        ({"enum": ["paid", "open"]}, "paid"),
        ({"type": "array", "minItems": 2, "items": {"type": "boolean"}}, [False, False]),
        ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, None),
    ],
)
def test_typed_values_meet_the_constraints(schema: dict[str, Any], valid: Any) -> None:
    value, _ = shaping.conform({"type": "object", "properties": {"f": schema}, "required": ["f"]}, None)
    assert value == {"f": valid}
    jsonschema.validate(value, {"type": "object", "properties": {"f": schema}})


def test_extracted_values_are_fitted_to_the_field_type() -> None:
    schema = {
        "type": "object",
        "properties": {
            "total": {"type": "string"},
            "quantity": {"type": "integer"},
            "invoiceDate": {"type": "string", "format": "date-time"},
            "currencyCode": {"type": "string", "enum": ["EUR", "USD"]},
        },
    }
    extracted = {"total_amount": 529.87, "qty": "3", "invoice_issue_date": "2024-11-15", "currency": "eur"}
    value, report = shaping.conform(schema, extracted)
    assert value == {
        "total": "529.87",
        "quantity": 3,
        "invoiceDate": "2024-11-15T00:00:00Z",
        "currencyCode": "EUR",
    }
    assert report.extracted == ["total", "quantity", "invoiceDate", "currencyCode"]


def test_a_required_self_reference_ends() -> None:
    schema = {
        "type": "object",
        "properties": {"node": {"$ref": "#/$defs/Node"}},
        "required": ["node"],
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"child": {"$ref": "#/$defs/Node"}},
                "required": ["child"],
            }
        },
    }
    value, report = shaping.conform(schema, None)
    assert report.typed == ["node"]
    depth = 0
    node = value["node"]
    while node:
        node, depth = node["child"], depth + 1
    assert depth == shaping.MAX_DEPTH
