"""A JSON schema compiled to plain Python checks: the fast path of ``autocast`` validation.

``jsonschema`` re-walks the schema and builds a validator object per keyword per value, about
1.6 ms per invoice; ten thousand invoices would spend more time validating than fetching. This
module compiles a schema once into nested closures (a few microseconds per value) for the
keywords the platform's domain schemas use. It is only ever a shortcut to "valid": a schema with
any keyword it does not implement is not compiled (``compile`` returns ``None``), and a response
it rejects is handed to ``jsonschema``, which decides and names the failing field. So its answer
"valid" must mean exactly what ``jsonschema`` (Draft 2020-12 rules, no format assertion) means.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

#: Keywords with no effect on validity (``format`` is an annotation unless a format checker is set).
_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "format",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$defs",
        "definitions",
        "contentMediaType",
        "contentEncoding",
    }
)
_IMPLEMENTED = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "anyOf",
        "allOf",
        "oneOf",
        "not",
        "enum",
        "const",
        "$ref",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
    }
)
#: Dialects whose rules for the implemented keywords are the ones below (Draft 6 and later).
_DIALECTS = frozenset(
    {
        "https://json-schema.org/draft/2020-12/schema",
        "https://json-schema.org/draft/2019-09/schema",
        "http://json-schema.org/draft-07/schema#",
        "http://json-schema.org/draft-07/schema",
        "http://json-schema.org/draft-06/schema#",
        "http://json-schema.org/draft-06/schema",
    }
)


class _Unsupported(Exception):
    """The schema uses something this module does not implement: let ``jsonschema`` do it all."""


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "integer": _is_integer,
    "number": _is_number,
}


def _equal(one: Any, two: Any) -> bool:
    """JSON equality: ``True`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    if _is_number(one) and _is_number(two):
        return bool(one == two)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    return type(one) is type(two) and bool(one == two)


_MISSING = object()
_CLASSES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "null": (type(None),),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def _type_names(value: Any) -> list[str]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or any(n not in _TYPES for n in names):
        raise _Unsupported(f"type {value!r}")
    return names


def _only_type(schema: Any) -> bool:
    """A schema that says nothing but its type (annotations aside)."""
    return isinstance(schema, dict) and "type" in schema and not (set(schema) - _ANNOTATIONS - {"type"})


def _type_test(names: list[str]) -> Check:
    """One test for a list of JSON types: ``isinstance`` first, the numeric rules only for numbers."""
    names = _type_names(names)
    classes = tuple(c for n in names if n in _CLASSES for c in _CLASSES[n])
    if "number" not in names and "integer" not in names:
        return lambda v: isinstance(v, classes)
    any_number = "number" in names

    def test(v: Any) -> bool:
        if isinstance(v, classes):
            return True
        if isinstance(v, bool):  # not a number in JSON (and "boolean" was not asked for)
            return False
        if isinstance(v, int):
            return True
        if isinstance(v, float):
            return any_number or v.is_integer()
        return False

    return test


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def ref(self, pointer: str) -> Check:
        if not pointer.startswith("#"):
            raise _Unsupported(f"$ref {pointer}")
        if pointer not in self.refs:
            target: Any = self.root
            for part in filter(None, pointer[1:].split("/")):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise _Unsupported(f"$ref {pointer}")
                target = target[part]
            slot: list[Check] = []
            self.refs[pointer] = lambda v: slot[0](v)  # recursion-safe: filled below
            slot.append(self.node(target))
        return self.refs[pointer]

    def node(self, schema: Any) -> Check:
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, dict):
            raise _Unsupported("schema is not an object")
        unknown = set(schema) - _IMPLEMENTED - _ANNOTATIONS - {"$schema"}
        if unknown:
            raise _Unsupported(", ".join(sorted(unknown)))
        checks = [self.keyword(k, v, schema) for k, v in schema.items() if k in _IMPLEMENTED]
        if not checks:
            return lambda v: True
        if len(checks) == 1:
            return checks[0]
        checks_t = tuple(checks)

        def every(v: Any) -> bool:
            for check in checks_t:  # noqa: SIM110 - no generator per call: this runs per value
                if not check(v):
                    return False
            return True

        return every

    def keyword(self, key: str, value: Any, schema: dict[str, Any]) -> Check:
        if key == "type":
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list) or any(n not in _TYPES for n in names):
                raise _Unsupported(f"type {value!r}")
            return _type_test(names)
        if key == "properties":
            props = tuple((name, self.node(sub)) for name, sub in value.items())

            def properties(v: Any) -> bool:
                if type(v) is not dict:
                    return not isinstance(v, dict) or all(c(v[n]) for n, c in props if n in v)
                get = v.get
                for name, check in props:
                    found = get(name, _MISSING)
                    if found is not _MISSING and not check(found):
                        return False
                return True

            return properties
        if key == "required":
            names = list(value)
            return lambda v: not isinstance(v, dict) or all(name in v for name in names)
        if key == "additionalProperties":
            known = set(schema.get("properties", {}))
            extra = self.node(value)
            return lambda v: not isinstance(v, dict) or all(extra(v[k]) for k in v if k not in known)
        if key == "items":
            if not isinstance(value, (dict, bool)):
                raise _Unsupported("items as a list")
            item = self.node(value)
            return lambda v: not isinstance(v, list) or all(item(x) for x in v)
        if key in ("anyOf", "allOf", "oneOf"):
            if key == "anyOf" and value and all(_only_type(s) for s in value):
                # ``anyOf: [{type: string}, {type: null}]`` (a nullable field): one type test
                return _type_test([n for s in value for n in _type_names(s["type"])])
            subs = tuple(self.node(s) for s in value)
            if key == "anyOf":

                def any_of(v: Any) -> bool:
                    for sub in subs:  # noqa: SIM110 - no generator per call: this runs per value
                        if sub(v):
                            return True
                    return False

                return any_of
            if key == "allOf":
                return lambda v: all(s(v) for s in subs)
            return lambda v: sum(1 for s in subs if s(v)) == 1
        if key == "not":
            sub = self.node(value)
            return lambda v: not sub(v)
        if key == "enum":
            options = list(value)
            return lambda v: any(_equal(v, o) for o in options)
        if key == "const":
            return lambda v: _equal(v, value)
        if key == "$ref":
            return self.ref(value)
        if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if not _is_number(value):
                raise _Unsupported(f"{key} {value!r}")
            compare: Callable[[Any], bool] = {
                "minimum": lambda v: v >= value,
                "maximum": lambda v: v <= value,
                "exclusiveMinimum": lambda v: v > value,
                "exclusiveMaximum": lambda v: v < value,
            }[key]
            return lambda v: not _is_number(v) or compare(v)
        if key in ("minLength", "maxLength", "minItems", "maxItems"):
            kind: type[str] | type[list[Any]] = str if key.endswith("Length") else list
            low = key.startswith("min")
            return lambda v: not isinstance(v, kind) or (len(v) >= value if low else len(v) <= value)
        raise _Unsupported(key)  # pragma: no cover - every implemented keyword is handled above


def compile(schema: Any) -> Check | None:
    """A check that returns ``True`` only for instances ``jsonschema`` accepts; ``None`` if unsupported."""
    if isinstance(schema, dict):
        dialect = schema.get("$schema")
        if dialect is not None and dialect not in _DIALECTS:
            return None
    try:
        return _Compiler(schema if isinstance(schema, dict) else {}).node(schema)
    except (_Unsupported, RecursionError, TypeError, AttributeError):
        return None
