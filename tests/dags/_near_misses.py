"""Responses that almost fit a schema, and the verdict each must get wherever ``autocast`` runs.

Shared by the client's tests and the ``vlm_autocast_near_misses`` test DAG, so the client and
``GenerateOperator(autocast=True)`` are held to one table. Each case's response is set on the dev
server for its own URL (a ``responses`` fault keyed by input). ``path`` is the failing field's path,
or ``None`` for a response that must pass. This file is listed in ``.airflowignore``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DOMAIN = "document.invoice"

#: A schema with the constraint keywords the platform's domain schemas do not use, sent as the
#: request's ``config.json_schema`` (which replaces the domain's schema for the cast and the check).
CONSTRAINED: dict[str, Any] = {
    "type": "object",
    "required": ["invoice_id", "total"],
    "properties": {
        "invoice_id": {"type": "string", "pattern": "^INV-[0-9]+$", "maxLength": 12},
        "total": {"type": "number", "minimum": 0},
        "currency": {"enum": ["EUR", "USD"]},
        "due": {"type": "string", "format": "date"},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku"],
                "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
            },
        },
    },
}
_GOOD: dict[str, Any] = {
    "invoice_id": "INV-2026001",
    "total": 12.5,
    "currency": "EUR",
    "due": "2026-01-31",
    "lines": [{"sku": "A-1", "qty": 2}],
}
_INVOICE: dict[str, Any] = {
    "invoice_id": "471102",
    "invoice_issue_date": "2018-03-05",
    "currency": "EUR",
    "subtotal": 445.29,
    "total_amount": 529.87,
    "issuer_address": {"city": "Berlin", "country": "DE"},
    "items": [{"description": "Trennblätter A4", "quantity": 20, "unit_price": 9.9, "total_price": 198}],
}


@dataclass(frozen=True)
class Case:
    name: str
    response: dict[str, Any]
    path: str | None
    #: ``None``: the domain's own schema (``document.invoice``); else the request's ``json_schema``.
    schema: dict[str, Any] | None = field(default=None)

    @property
    def url(self) -> str:
        return f"https://near-miss.example/{self.name}.pdf"

    @property
    def config(self) -> dict[str, Any] | None:
        return {"json_schema": self.schema} if self.schema is not None else None


def _with(base: dict[str, Any], **change: Any) -> dict[str, Any]:
    return {**base, **change}


CASES: list[Case] = [
    # document.invoice, as the platform publishes it: every field optional, ``anyOf [X, null]``
    Case("invoice_valid", _INVOICE, None),
    Case("invoice_all_null", {"invoice_id": None, "total_amount": None, "items": None}, None),
    Case("invoice_integer_for_number", _with(_INVOICE, total_amount=530), None),
    Case("number_as_string", _with(_INVOICE, total_amount="12.5"), "$.total_amount"),
    Case("boolean_for_number", _with(_INVOICE, subtotal=True), "$.subtotal"),
    Case("object_for_array", _with(_INVOICE, items={"description": "one line"}), "$.items"),
    Case(
        "nested_wrong_type",
        _with(_INVOICE, items=[_INVOICE["items"][0], {"total_price": "ten"}]),
        "$.items[1].total_price",
    ),
    Case(
        "nested_object_wrong_type", _with(_INVOICE, issuer_address={"city": 10115}), "$.issuer_address.city"
    ),
    Case("date_not_iso", _with(_INVOICE, invoice_issue_date="05.03.2018"), "$.invoice_issue_date"),
    Case("date_impossible", _with(_INVOICE, invoice_issue_date="2018-02-30"), "$.invoice_issue_date"),
    # constraint keywords, through the request's json_schema
    Case("constrained_valid", _GOOD, None, CONSTRAINED),
    Case("below_minimum", _with(_GOOD, total=-0.01), "$.total", CONSTRAINED),
    Case("too_long", _with(_GOOD, invoice_id="INV-2026000001"), "$.invoice_id", CONSTRAINED),
    Case("pattern_mismatch", _with(_GOOD, invoice_id="2026001"), "$.invoice_id", CONSTRAINED),
    Case("not_in_enum", _with(_GOOD, currency="eur"), "$.currency", CONSTRAINED),
    Case("missing_required", {k: v for k, v in _GOOD.items() if k != "total"}, "$.total", CONSTRAINED),
    Case("nested_missing_required", _with(_GOOD, lines=[{"qty": 1}]), "$.lines[0].sku", CONSTRAINED),
    Case(
        "float_for_integer", _with(_GOOD, lines=[{"sku": "A-1", "qty": 1.5}]), "$.lines[0].qty", CONSTRAINED
    ),
    Case("date_format", _with(_GOOD, due="31/01/2026"), "$.due", CONSTRAINED),
]


def responses() -> dict[str, dict[str, Any]]:
    """The dev server's ``responses`` fault: each case's response for its own URL."""
    return {case.url: case.response for case in CASES}


def client_verdict(client: Any, case: Case) -> str | None:
    """``client.document.generate(..., autocast=True)``'s verdict: ``None`` (passed) or the failing path.

    A pass must also give the typed object users read (``prediction.response.<field>``).
    """
    from airflow_provider_vlm.client import CastModel, ResponseValidationError

    try:
        prediction = client.document.generate(url=case.url, domain=DOMAIN, config=case.config, autocast=True)
    except ResponseValidationError as exc:
        assert exc.path in str(exc) and exc.prediction_id in str(exc), exc
        return str(exc.path)
    assert isinstance(prediction.response, CastModel), prediction.response
    typed = prediction.response.as_dict()
    assert {k: typed[k] for k in case.response} == case.response
    return None
