"""The compiled schema check (autocast's fast path) never calls valid what ``jsonschema`` rejects.

``fastjsonschema`` was measured for this path and left out: the domain schemas make every optional
field an ``anyOf`` with ``null``, which it checks by raising and catching an exception per branch,
about 1 ms per invoice against 15 us here (collect-step ratio 1.82 against 1.05 at 10,000).
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import jsonschema
import pytest

from airflow_provider_vlm import _fastcheck
from airflow_provider_vlm.client import ResponseValidationError
from airflow_provider_vlm.devserver import catalog
from airflow_provider_vlm.validation import compiled, validate_against_schema

HAND_MADE: list[dict[str, Any]] = [
    {"type": "integer", "minimum": 1, "exclusiveMaximum": 10},
    {"type": ["string", "null"], "minLength": 2, "maxLength": 4},
    {"enum": [1, "a", None, True, [1, 2], {"k": 1}]},
    {"const": 0},
    {"oneOf": [{"type": "number"}, {"type": "integer"}]},
    {"not": {"type": "null"}},
    {"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 3},
    {
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/node"}, "b": {"type": "boolean"}},
        "required": ["a"],
        "additionalProperties": False,
        "$defs": {
            "node": {
                "anyOf": [{"type": "null"}, {"type": "object", "properties": {"a": {"$ref": "#/$defs/node"}}}]
            }
        },
    },
    {"allOf": [{"type": "object"}, {"required": ["x"]}], "additionalProperties": {"type": "string"}},
    # names are data, never code: quotes, backslashes, newlines and code-like text stay literals
    {
        "properties": {"x'\"\\\n": {"type": "integer"}, "__import__('os')": {"const": 1}},
        "required": ["x'\"\\\n"],
    },
]
VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    1.0,
    2.5,
    10,
    -3,
    "",
    "a",
    "ab",
    "abcde",
    [],
    [1],
    [1, 2],
    [1, 2, 3, 4],
    ["x"],
    {},
    {"a": None},
    {"a": {"a": None}},
    {"a": {"a": 3}},
    {"a": None, "b": 1},
    {"x": "s"},
    {"x": 1},
    {"k": 1},
    {"a": None, "c": 1},
]


def _domain_schemas() -> list[dict[str, Any]]:
    """Every schema of the platform's catalog (``vlmrun-hub``) and the platform-only domains."""
    return [domain.json_schema for _, domain in sorted(catalog.domains().items())]


def _mutations(value: Any, rng: random.Random) -> list[Any]:
    """Small changes of a valid instance: wrong types, removed keys, nulls, extra keys."""
    out = []
    if isinstance(value, dict):
        for key in list(value)[:40]:
            for replacement in (None, 1, 1.5, "x", True, [], {}):
                changed = copy.copy(value)
                changed[key] = replacement
                out.append(changed)
            removed = {k: v for k, v in value.items() if k != key}
            out.append(removed)
            if isinstance(value[key], (dict, list)):
                for inner in _mutations(value[key], rng)[:6]:
                    changed = copy.copy(value)
                    changed[key] = inner
                    out.append(changed)
        out.append({**value, "unexpected": rng.random()})
    elif isinstance(value, list) and value:
        out.extend([[None], [1], [*value, value[0]], value[1:]])
    return out


def _skeleton(schema: Any, root: dict[str, Any], depth: int = 0) -> Any:
    """A plausible instance built from a schema (first anyOf branch that is not null)."""
    if depth > 6 or not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"][2:].split("/"):
            target = target[part]
        return _skeleton(target, root, depth + 1)
    if "anyOf" in schema:
        branches = [b for b in schema["anyOf"] if b.get("type") != "null"] or schema["anyOf"]
        return _skeleton(branches[0], root, depth + 1)
    kind = schema.get("type")
    if kind == "object":
        return {k: _skeleton(v, root, depth + 1) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [_skeleton(schema.get("items", {}), root, depth + 1)]
    return {"string": "s", "number": 1.5, "integer": 2, "boolean": True, "null": None}.get(str(kind))


@pytest.mark.parametrize("schema", HAND_MADE + _domain_schemas())
def test_fast_check_agrees_with_jsonschema(schema: dict[str, Any]) -> None:
    check = _fastcheck.compile(schema)
    if check is None:  # a keyword it does not implement (e.g. ``pattern``): jsonschema decides alone
        return
    reference = jsonschema.validators.validator_for(schema)(schema)
    rng = random.Random(7)
    instances = list(VALUES)
    base = _skeleton(schema, schema)
    instances += [base, *_mutations(base, rng)]
    for instance in instances:
        assert check(instance) == reference.is_valid(instance), instance


def test_the_nightly_domains_take_the_fast_path() -> None:
    schemas = dict(sorted(catalog.domains().items()))
    assert _fastcheck.compile(schemas["document.invoice"].json_schema) is not None
    compiled_names = [name for name, domain in schemas.items() if _fastcheck.compile(domain.json_schema)]
    assert len(compiled_names) >= len(schemas) - 3, sorted(set(schemas) - set(compiled_names))


def test_unknown_keywords_and_dialects_fall_back_to_jsonschema() -> None:
    assert _fastcheck.compile({"type": "string", "pattern": "^a"}) is None
    assert _fastcheck.compile({"$schema": "http://json-schema.org/draft-04/schema#"}) is None
    assert _fastcheck.compile({"$ref": "https://example.com/other.json"}) is None
    # ...and validation still works through jsonschema
    with pytest.raises(ResponseValidationError, match=r"\$: 'b' does not match"):
        validate_against_schema("b", {"type": "string", "pattern": "^a"})


def test_a_schema_is_compiled_once_and_mismatches_still_name_the_field() -> None:
    schema = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "number"}}}}
    assert compiled(schema) is compiled(json.loads(json.dumps(schema)))
    with pytest.raises(ResponseValidationError) as info:
        validate_against_schema({"items": [1, "two"]}, schema, prediction_id="p")
    assert info.value.path == "$.items[1]"
