"""What is derived from a domain's JSON schema: the SchemaResponse, its GraphQL selection, an
empty instance. The schemas themselves come from ``catalog``."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from . import catalog


def known_domains() -> list[str]:
    """Domains whose schema the server knows, sorted."""
    return catalog.known()


def json_schema(domain: str) -> dict[str, Any] | None:
    """The JSON schema of ``domain``, or None when the server does not know it."""
    entry = catalog.get(domain)
    return entry.json_schema if entry is not None else None


def schema_response(domain: str, schema: dict[str, Any], version: str | None = None) -> dict[str, Any]:
    """The API's SchemaResponse for a schema (the catalog's version when it is the domain's own,
    ``version`` when given: a schema published at run time)."""
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    entry = catalog.get(domain)
    own = entry is not None and entry.json_schema is schema
    if version is None:
        version = entry.version if own and entry else catalog.PLATFORM_SCHEMA_VERSION
    return {
        "domain": domain,
        "description": schema.get("description") or (entry.description if own and entry else None),
        "schema_version": version,
        "schema_hash": hashlib.sha256(canonical.encode()).hexdigest()[:8],
        "gql_stmt": gql_stmt(schema),
        "json_schema": schema,
    }


def gql_stmt(schema: dict[str, Any]) -> str:
    """A GraphQL selection of every field, as the API pairs with each schema."""
    fields = _selection(schema, schema)
    return "{ " + " ".join(fields) + " }" if fields else "{ }"


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` and take the non-null branch of ``anyOf``."""
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(root.get("$defs", {}).get(ref.split("/")[-1], {}), root)
    for branch in node.get("anyOf", []):
        if isinstance(branch, dict) and branch.get("type") != "null":
            return _resolve(branch, root)
    return node


def _selection(node: dict[str, Any], root: dict[str, Any]) -> list[str]:
    node = _resolve(node, root)
    if node.get("type") == "array":
        return _selection(node.get("items", {}), root)
    out: list[str] = []
    for name, child in node.get("properties", {}).items():
        inner = _selection(child, root) if isinstance(child, dict) else []
        out.append(f"{name} {{ {' '.join(inner)} }}" if inner else name)
    return out


def empty_instance(schema: dict[str, Any]) -> dict[str, Any]:
    """An object shaped like ``schema``: null where allowed, else the type's empty value."""
    value = _empty(schema, schema, top=True)
    return value if isinstance(value, dict) else {}


def _nullable(node: dict[str, Any]) -> bool:
    types = node.get("type")
    if types == "null" or (isinstance(types, list) and "null" in types):
        return True
    return any(isinstance(b, dict) and b.get("type") == "null" for b in node.get("anyOf", []))


def _empty(node: dict[str, Any], root: dict[str, Any], top: bool = False) -> Any:
    if not top and _nullable(node):
        return None
    node = _resolve(node, root)
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in node:
        return {name: _empty(child, root) for name, child in node.get("properties", {}).items()}
    return {"array": [], "string": "", "integer": 0, "number": 0, "boolean": False}.get(str(kind))
