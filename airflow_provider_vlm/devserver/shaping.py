"""Shape an engine's result to a requested JSON schema, as the platform answers ``json_schema``.

A field the engine extracted goes in where the schema has a field of the same name or meaning
(``invoice_number`` takes ``invoice_id``, ``total`` takes ``total_amount``) and the value fits
the field's type (numbers from numeric strings and back, dates into date-times). Extracted
values are kept as they are: a constraint the real value breaks (``total < 100``) is the
user's model disagreeing with the document, and validation reports it. Every other field gets
a value that validates: ``null`` where the schema allows it, else its default, else a typed
value that meets its constraints (enum, const, minimum, minLength, minItems, format).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, TypeGuard

# Names that mean the same thing in documents, one group a line; a name may sit in several.
_SYNONYMS: tuple[tuple[str, ...], ...] = tuple(
    tuple(line.split())
    for line in (
        "invoice_id invoice_number invoice_no invoice_num invoice_ref number document_number document_id bill_number receipt_id receipt_number id",
        "total_amount total grand_total invoice_total amount_total total_due gross_total gross_amount total_gross amount",
        "invoice_issue_date issue_date invoice_date date issued_on document_date transaction_date date_issued",
        "invoice_due_date due_date payment_due_date due",
        "issuer_name vendor_name seller_name supplier_name merchant_name company_name vendor seller supplier issuer merchant from_name",
        "customer_name buyer_name client_name bill_to_name recipient_name customer buyer client to_name",
        "issuer_vat_id vendor_vat_id seller_vat_id supplier_vat_id vat_id tax_id vendor_tax_id seller_tax_id issuer_tax_id",
        "customer_vat_id buyer_vat_id customer_tax_id buyer_tax_id client_vat_id",
        "issuer_address vendor_address seller_address supplier_address merchant_address",
        "customer_billing_address billing_address buyer_address customer_address bill_to_address bill_to",
        "customer_shipping_address shipping_address ship_to_address delivery_address ship_to",
        "issuer_email vendor_email seller_email supplier_email",
        "issuer_phone vendor_phone seller_phone supplier_phone merchant_phone",
        "customer_email buyer_email client_email",
        "customer_phone buyer_phone client_phone",
        "currency currency_code",
        "subtotal sub_total net_amount net_total total_net total_before_tax",
        "tax_amount tax vat_amount total_tax vat tax_total",
        "tax_percentage tax_rate vat_rate vat_percentage",
        "discount_amount discount total_discount",
        "amount_paid paid_amount paid prepaid_amount",
        "balance_due amount_due due_amount outstanding_amount",
        "order_id order_number purchase_order po_number order_reference",
        "customer_id customer_number buyer_id client_id account_number",
        "payment_terms terms",
        "items line_items lines products positions entries",
        "description name item_name item product product_name item_description title",
        "quantity qty count units",
        "unit_price price rate price_per_unit unit_cost",
        "total_price line_total amount line_amount total net_amount",
        "postal_code zip zip_code postcode",
        "street street_address address_line address_line1 line1",
        "city town locality",
        "country country_code",
        "state province region",
    )
)


def _norm(name: str) -> str:
    """``invoiceNumber``, ``Invoice-Number`` and ``invoice number`` all become ``invoice_number``."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


_GROUPS: dict[str, set[int]] = {}
for _index, _group in enumerate(_SYNONYMS):
    for _name in _group:
        _GROUPS.setdefault(_name, set()).add(_index)

_MISSING = object()  # "no extracted value": distinct from an extracted null


@dataclass
class FillReport:
    """Which top-level fields were filled how (the ``_devserver.fields`` marker)."""

    extracted: list[str] = field(default_factory=list)
    typed: list[str] = field(default_factory=list)
    null: list[str] = field(default_factory=list)

    def to_wire(self) -> dict[str, list[str]]:
        return {"extracted": self.extracted, "typed": self.typed, "null": self.null}


def conform(schema: dict[str, Any], extracted: dict[str, Any] | None) -> tuple[Any, FillReport]:
    """A value that validates against ``schema``, with ``extracted`` mapped in where it fits."""
    filler = _Filler(schema)
    report = FillReport()
    node = filler.deref(schema)
    if not _is_object(node):
        value, _ = filler.fill(schema, extracted if extracted is not None else _MISSING)
        return value, report
    out: dict[str, Any] = {}
    for name, child in node.get("properties", {}).items():
        source = _lookup(name, extracted or {})
        value, how = filler.fill(child, source)
        out[name] = value
        getattr(report, how).append(name)
    return out, report


def allows_extra_keys(schema: dict[str, Any]) -> bool:
    """Whether an object of ``schema`` may carry a key it does not list (the ``_devserver`` mark)."""
    return _Filler(schema).deref(schema).get("additionalProperties", True) is not False


def _lookup(name: str, source: dict[str, Any]) -> Any:
    """The source value for field ``name``: same name, same normalised name, then same meaning."""
    key = source_key(name, source)
    return _MISSING if key is None else source[key]


def source_key(name: str, source: dict[str, Any]) -> str | None:
    """The key of ``source`` that field ``name`` takes its value from (see ``_lookup``), or None."""
    if name in source:
        return name
    wanted = _norm(name)
    normalised = {_norm(k): k for k in source}
    if wanted in normalised:
        return normalised[wanted]
    groups = _GROUPS.get(wanted, set())
    if groups:
        # The group's own order says which meaning is likelier (invoice_id before id).
        for index in sorted(groups):
            for candidate in _SYNONYMS[index]:
                key = normalised.get(candidate)
                if candidate != wanted and key is not None and source[key] is not None:
                    return key
    return None


def _is_object(node: dict[str, Any]) -> bool:
    return node.get("type") == "object" or "properties" in node


#: Nesting depth past which a required self-referencing object is cut short (``{}``).
MAX_DEPTH = 16


class _Filler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.depth = 0

    def deref(self, node: dict[str, Any]) -> dict[str, Any]:
        """Follow ``$ref`` (local) and a lone ``allOf``, keeping sibling keywords."""
        seen = 0
        while True:
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/") and seen < 50:
                target: Any = self.root
                for part in ref[2:].split("/"):
                    target = target.get(part, {}) if isinstance(target, dict) else {}
                node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
                seen += 1
                continue
            all_of = node.get("allOf")
            if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
                node = {**all_of[0], **{k: v for k, v in node.items() if k != "allOf"}}
                continue
            return node

    def fill(self, node: dict[str, Any], source: Any) -> tuple[Any, str]:
        """(value, how): how is ``extracted``, ``typed`` or ``null``."""
        node = self.deref(node)
        if source is not _MISSING and source is not None:
            fitted = self.fit(node, source)
            if fitted is not _MISSING:
                return fitted, "extracted"
        if self.nullable(node):
            return None, "null"
        if "default" in node:
            return node["default"], "typed"
        return self.typed(node), "typed"

    def nullable(self, node: dict[str, Any]) -> bool:
        kind = node.get("type")
        if kind == "null" or (isinstance(kind, list) and "null" in kind):
            return True
        if node.get("const", 0) is None or (isinstance(node.get("enum"), list) and None in node["enum"]):
            return True
        for branch in node.get("anyOf", []) + node.get("oneOf", []):
            if isinstance(branch, dict) and self.nullable(self.deref(branch)):
                return True
        return False

    def _branches(self, node: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for branch in node.get("anyOf", []) + node.get("oneOf", []):
            if isinstance(branch, dict):
                branch = self.deref(branch)
                if branch.get("type") != "null":
                    out.append(branch)
        return out

    # --- an extracted value, made to fit the field's type ------------------------------------

    def fit(self, node: dict[str, Any], value: Any) -> Any:
        if "const" in node:
            return node["const"] if value == node["const"] else _MISSING
        branches = self._branches(node)
        if branches:
            for branch in branches:
                fitted = self.fit(branch, value)
                if fitted is not _MISSING:
                    return fitted
            return _MISSING
        if isinstance(node.get("enum"), list):
            return _fit_enum(node["enum"], value)
        kind = _kind(node)
        if kind == "object":
            return self._fit_object(node, value)
        if kind == "array":
            return self._fit_array(node, value)
        if kind is None:
            return value  # any value validates against a schema without a type
        return _fit_scalar(kind, node, value)

    def _fit_object(self, node: dict[str, Any], value: Any) -> Any:
        if not isinstance(value, dict):
            return _MISSING
        properties: dict[str, Any] = node.get("properties", {})
        if not properties:
            extra = node.get("additionalProperties", True)
            if extra is False:
                return {}
            if isinstance(extra, dict) and extra:
                fitted = {k: self.fit(self.deref(extra), v) for k, v in value.items()}
                return {k: v for k, v in fitted.items() if v is not _MISSING}
            return dict(value)
        out: dict[str, Any] = {}
        found = 0
        for name, child in properties.items():
            source = _lookup(name, value)
            filled, how = self.fill(child, source)
            found += how == "extracted"
            out[name] = filled
        return out if found else _MISSING

    def _fit_array(self, node: dict[str, Any], value: Any) -> Any:
        if not isinstance(value, list):
            return _MISSING
        items = node.get("items")
        if not isinstance(items, dict):
            return list(value)
        items = self.deref(items)
        fitted = [self.fit(items, element) for element in value]
        kept = [v for v in fitted if v is not _MISSING]
        if len(kept) < int(node.get("minItems", 0)):
            return _MISSING
        maximum = node.get("maxItems")
        return kept[: int(maximum)] if isinstance(maximum, int) else kept

    # --- a typed value for a field nothing was extracted for -------------------------------

    def typed(self, node: dict[str, Any]) -> Any:
        node = self.deref(node)
        if "const" in node:
            return node["const"]
        if isinstance(node.get("enum"), list) and node["enum"]:
            return node["enum"][0]
        if "default" in node:
            return node["default"]
        branches = self._branches(node)
        if branches:
            return self.typed(branches[0])
        if isinstance(node.get("examples"), list) and node["examples"]:
            return node["examples"][0]
        kind = _kind(node)
        if kind == "object":
            if self.depth >= MAX_DEPTH:
                return {}
            self.depth += 1
            try:
                return {
                    name: self.fill(child, _MISSING)[0] for name, child in node.get("properties", {}).items()
                }
            finally:
                self.depth -= 1
        if kind == "array":
            count = int(node.get("minItems", 0))
            items: dict[str, Any] = node["items"] if isinstance(node.get("items"), dict) else {}
            return [self.typed(items) for _ in range(count)]
        if kind == "string":
            return _typed_string(node)
        if kind in ("number", "integer"):
            return _typed_number(node, integer=kind == "integer")
        if kind == "boolean":
            return False
        return None


def _kind(node: dict[str, Any]) -> str | None:
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None and "properties" in node:
        return "object"
    return kind if isinstance(kind, str) else None


def _fit_enum(options: list[Any], value: Any) -> Any:
    if value in options:
        return value
    if isinstance(value, str):
        for option in options:
            if isinstance(option, str) and option.lower() == value.strip().lower():
                return option
    return _MISSING


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


def _fit_scalar(kind: str, node: dict[str, Any], value: Any) -> Any:
    if kind == "string":
        if isinstance(value, bool | dict | list):
            return _MISSING
        text = _number_text(value) if isinstance(value, int | float) else str(value)
        fmt = node.get("format")
        if fmt == "date":
            return text[:10] if _DATE.match(text[:10]) else _MISSING
        if fmt == "date-time":
            if _DATE.match(text):
                return text + "T00:00:00Z"
            return text if _DATETIME.match(text) else _MISSING
        return text
    if kind in ("number", "integer"):
        number = _as_number(value)
        if number is None:
            return _MISSING
        if kind == "integer":
            return int(number) if float(number).is_integer() else _MISSING
        return number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
            return value.strip().lower() in ("true", "yes")
        return _MISSING
    if kind == "null":
        return _MISSING
    return _MISSING


def _as_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        cleaned = value.strip().replace(",", "")
        try:
            number = float(cleaned)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


_FORMATS = {
    "date": "1970-01-01",
    "date-time": "1970-01-01T00:00:00Z",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "ipv4": "127.0.0.1",
    "hostname": "example.com",
}


def _typed_string(node: dict[str, Any]) -> str:
    value = _FORMATS.get(str(node.get("format")), "")
    minimum = int(node.get("minLength", 0))
    if len(value) < minimum:
        value = value + "x" * (minimum - len(value))
    pattern = node.get("pattern")
    if isinstance(pattern, str) and not re.search(pattern, value):
        for candidate in ("0", "a", "A", "x" * max(minimum, 1), "0" * max(minimum, 1), "A" * max(minimum, 1)):
            if re.search(pattern, candidate):
                return candidate
    return value


def _typed_number(node: dict[str, Any], integer: bool) -> float | int:
    """0, or the nearest value the bounds allow."""
    low, high = node.get("minimum"), node.get("maximum")
    above, below = node.get("exclusiveMinimum"), node.get("exclusiveMaximum")
    value: float = 0
    if _is_number(low):
        value = low
    if _is_number(above) and value <= above:
        value = math.floor(above) + 1 if integer else above + 1
    if _is_number(high) and value > high:
        value = high
    if _is_number(below) and value >= below:
        floor = above if _is_number(above) else (low if _is_number(low) else below - 2)
        value = math.ceil(below) - 1 if integer else (floor + below) / 2
    step = node.get("multipleOf")
    if _is_number(step) and step > 0:
        value = math.ceil(value / step) * step
    return int(value) if integer else float(value)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
