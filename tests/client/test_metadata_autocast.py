"""Responses asked for with ``confidence``/``grounding`` carry ``X_metadata`` siblings: autocast
accepts them (even where a schema forbids unlisted keys) and keeps them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_vlm.client import ResponseValidationError, VlmClient
from airflow_provider_vlm.client.schema_check import compiled, validate_against_schema, without_metadata
from tests.invoices import PRIMARY_ID

STRICT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "invoice_id": {"type": "string"},
        "total_amount": {"type": "number"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"description": {"type": "string"}},
            },
        },
    },
    "required": ["invoice_id", "total_amount"],
}
META = {"confidence": 0.99, "bbox": {"xywh": [0.85, 0.18, 0.05, 0.01]}}


def test_autocast_keeps_the_metadata_of_a_real_invoice(client: VlmClient, invoice_pdf: Path) -> None:
    prediction = client.document.generate(
        file=invoice_pdf,
        domain="document.invoice",
        autocast=True,
        config={"confidence": True, "grounding": True},
    )
    response: Any = prediction.response
    assert response.invoice_id == PRIMARY_ID
    extra = response.model_extra or {}
    assert extra["invoice_id_metadata"]["confidence"] == 0.99
    assert len(extra["total_amount_metadata"]["bbox"]["xywh"]) == 4
    # The record (XCom) keeps them too.
    assert prediction.record()["response"]["invoice_id_metadata"] == extra["invoice_id_metadata"]


def test_a_strict_schema_accepts_metadata_siblings() -> None:
    response = {
        "invoice_id": "A-1",
        "invoice_id_metadata": META,
        "total_amount": 12.5,
        "total_amount_metadata": {"confidence": 0.7},
        "items": [{"description": "x", "description_metadata": META}],
    }
    validate_against_schema(response, STRICT)
    assert compiled(STRICT).is_valid(response)


def test_only_siblings_are_excused() -> None:
    # A key that is nobody's sibling is still an unlisted key.
    orphan = {"invoice_id": "A-1", "total_amount": 1.0, "vendor_metadata": META}
    with pytest.raises(ResponseValidationError):
        validate_against_schema(orphan, STRICT)
    # A wrong value still fails, with its path, metadata or not.
    wrong = {"invoice_id": "A-1", "invoice_id_metadata": META, "total_amount": "12.50"}
    with pytest.raises(ResponseValidationError) as caught:
        validate_against_schema(wrong, STRICT)
    assert caught.value.path == "$.total_amount"
    assert not compiled(STRICT).is_valid(wrong)


def test_without_metadata_leaves_other_fields_alone() -> None:
    value = {"a": 1, "a_metadata": META, "b_metadata": 2, "c": [{"d": 1, "d_metadata": {}}]}
    assert without_metadata(value) == {"a": 1, "b_metadata": 2, "c": [{"d": 1}]}
