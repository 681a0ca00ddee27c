"""A JSON schema compiled to plain Python checks: the fast path of ``autocast`` validation.

``jsonschema`` re-walks the schema and builds a validator object per keyword per value, about
1.6 ms per invoice; ten thousand invoices would spend more time validating than fetching. This
module compiles a schema once into the source of one plain Python function (plus one per
``$ref`` target and per ``anyOf`` branch), tens of microseconds per invoice, for the keywords the
platform's domain schemas use. The source is built from the schema's structure only: names and
values from the schema reach it as ``repr`` literals or as constants passed in, never as code.
It is only ever a shortcut to "valid": a schema with
any keyword it does not implement is not compiled (``compile`` returns ``None``), and a response
it rejects is handed to ``jsonschema``, which decides and names the failing field. So its answer
"valid" must mean exactly what ``jsonschema`` (Draft 2020-12 rules, no format assertion) means.
"""

from __future__ import annotations

from builtins import compile as builtins_compile
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


_CLASSES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "null": (type(None),),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
_MISSING = object()


def _type_names(value: Any) -> list[str]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or any(n not in _TYPES for n in names):
        raise _Unsupported(f"type {value!r}")
    return names


def _only_type(schema: Any) -> bool:
    """A schema that says nothing but its type (annotations aside)."""
    return isinstance(schema, dict) and "type" in schema and not (set(schema) - _ANNOTATIONS - {"type"})


class _Generator:
    """Writes the checking functions; every statement list ``return False`` on a mismatch."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.consts: list[Any] = []
        self.functions: list[str] = []
        self.refs: dict[str, str] = {}
        self.count = 0

    def const(self, value: Any) -> str:
        self.consts.append(value)
        return f"_c[{len(self.consts) - 1}]"

    def fresh(self, prefix: str = "x") -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def function(self, schema: Any, name: str | None = None) -> str:
        name = name or self.fresh("_f")
        lines = self.node(schema, "v", "    ")
        self.functions.append("\n".join([f"def {name}(v):", *lines, "    return True"]))
        return name

    def ref(self, pointer: str) -> str:
        if not isinstance(pointer, str) or not pointer.startswith("#"):
            raise _Unsupported(f"$ref {pointer!r}")
        if pointer not in self.refs:
            target: Any = self.root
            for part in filter(None, pointer[1:].split("/")):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise _Unsupported(f"$ref {pointer}")
                target = target[part]
            name = self.refs[pointer] = self.fresh("_r")  # named first: recursion calls it
            self.function(target, name)
        return self.refs[pointer]

    def type_test(self, names: list[str], var: str) -> str:
        """An expression true when ``var`` has one of the JSON types."""
        classes = self.const(tuple(c for n in _type_names(names) if n in _CLASSES for c in _CLASSES[n]))
        test = f"isinstance({var}, {classes})"
        if "number" in names:
            return f"({test} or (isinstance({var}, (int, float)) and not isinstance({var}, bool)))"
        if "integer" in names:
            return (
                f"({test} or (isinstance({var}, int) and not isinstance({var}, bool)) "
                f"or (isinstance({var}, float) and {var}.is_integer()))"
            )
        return test

    def branch(self, schema: Any, var: str) -> str:
        """An expression true when ``var`` matches ``schema`` (for anyOf/oneOf/not)."""
        if _only_type(schema):
            return self.type_test(_type_names(schema["type"]), var)
        if isinstance(schema, dict) and "$ref" in schema and not (set(schema) - _ANNOTATIONS - {"$ref"}):
            return f"{self.ref(schema['$ref'])}({var})"
        return f"{self.function(schema)}({var})"

    def node(self, schema: Any, var: str, ind: str) -> list[str]:
        if schema is True:
            return []
        if schema is False:
            return [f"{ind}return False"]
        if not isinstance(schema, dict):
            raise _Unsupported("schema is not an object")
        unknown = set(schema) - _IMPLEMENTED - _ANNOTATIONS - {"$schema"}
        if unknown:
            raise _Unsupported(", ".join(sorted(unknown)))
        lines: list[str] = []
        for key, value in schema.items():
            if key in _IMPLEMENTED:
                lines += self.keyword(key, value, schema, var, ind)
        return lines

    def keyword(self, key: str, value: Any, schema: dict[str, Any], var: str, ind: str) -> list[str]:
        nxt = ind + "    "
        if key == "type":
            return [f"{ind}if not {self.type_test(_type_names(value), var)}:", f"{nxt}return False"]
        if key == "properties":
            if not isinstance(value, dict):
                raise _Unsupported("properties")
            lines = [f"{ind}if isinstance({var}, dict):"]
            for name, sub in value.items():
                if not isinstance(name, str):
                    raise _Unsupported("property name")
                inner = self.fresh()
                body = self.node(sub, inner, nxt + "    ")
                if body:
                    lines += [
                        f"{nxt}{inner} = {var}.get({name!r}, _missing)",
                        f"{nxt}if {inner} is not _missing:",
                    ]
                    lines += body
            return lines if len(lines) > 1 else []
        if key == "required":
            names = [n for n in value if isinstance(n, str)]
            if len(names) != len(value):
                raise _Unsupported("required")
            test = " or ".join(f"{n!r} not in {var}" for n in names) or "False"
            return [f"{ind}if isinstance({var}, dict) and ({test}):", f"{nxt}return False"]
        if key == "additionalProperties":
            known = self.const(frozenset(schema.get("properties", {})))
            k, inner = self.fresh("k"), self.fresh()
            body = self.node(value, inner, nxt + "        ")
            if not body:
                return []
            return [
                f"{ind}if isinstance({var}, dict):",
                f"{nxt}for {k}, {inner} in {var}.items():",
                f"{nxt}    if {k} not in {known}:",
                *body,
            ]
        if key == "items":
            if not isinstance(value, (dict, bool)):
                raise _Unsupported("items as a list")
            inner = self.fresh()
            body = self.node(value, inner, nxt + "    ")
            return [f"{ind}if isinstance({var}, list):", f"{nxt}for {inner} in {var}:", *body] if body else []
        if key == "allOf":
            return [line for sub in value for line in self.node(sub, var, ind)]
        if key == "anyOf":
            # type-only branches first, as one test: ``anyOf: [{$ref}, {type: null}]`` tests null first
            only = [n for sub in value if _only_type(sub) for n in _type_names(sub["type"])]
            parts = [self.type_test(only, var)] if only else []
            parts += [self.branch(sub, var) for sub in value if not _only_type(sub)]
            if not parts:
                raise _Unsupported("empty anyOf")
            return [f"{ind}if not ({' or '.join(parts)}):", f"{nxt}return False"]
        if key == "oneOf":
            tests = ", ".join(self.branch(s, var) for s in value)
            return [f"{ind}if sum(map(bool, ({tests},))) != 1:", f"{nxt}return False"]
        if key == "not":
            return [f"{ind}if {self.branch(value, var)}:", f"{nxt}return False"]
        if key == "enum":
            return [
                f"{ind}if not any(_equal({var}, o) for o in {self.const(list(value))}):",
                f"{nxt}return False",
            ]
        if key == "const":
            return [f"{ind}if not _equal({var}, {self.const(value)}):", f"{nxt}return False"]
        if key == "$ref":
            return [f"{ind}if not {self.ref(value)}({var}):", f"{nxt}return False"]
        if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if not _is_number(value):
                raise _Unsupported(f"{key} {value!r}")
            op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[key]
            number = f"isinstance({var}, (int, float)) and not isinstance({var}, bool)"
            return [f"{ind}if {number} and not ({var} {op} {self.const(value)}):", f"{nxt}return False"]
        if key in ("minLength", "maxLength", "minItems", "maxItems"):
            if not _is_integer(value):
                raise _Unsupported(f"{key} {value!r}")
            kind = "str" if key.endswith("Length") else "list"
            op = "<" if key.startswith("min") else ">"
            return [
                f"{ind}if isinstance({var}, {kind}) and len({var}) {op} {int(value)}:",
                f"{nxt}return False",
            ]
        raise _Unsupported(key)  # pragma: no cover - every implemented keyword is handled above


def source(schema: Any) -> tuple[str, list[Any]] | None:
    """The generated module source and its constants (for reading and tests); ``None`` if unsupported."""
    if isinstance(schema, dict):
        dialect = schema.get("$schema")
        if dialect is not None and dialect not in _DIALECTS:
            return None
    try:
        generator = _Generator(schema if isinstance(schema, dict) else {})
        generator.function(schema, "_root")
    except (_Unsupported, RecursionError, TypeError, AttributeError):
        return None
    return "\n\n".join(generator.functions), generator.consts


def compile(schema: Any) -> Check | None:
    """A check that returns ``True`` only for instances ``jsonschema`` accepts; ``None`` if unsupported."""
    generated = source(schema)
    if generated is None:
        return None
    code, consts = generated
    namespace: dict[str, Any] = {"_c": consts, "_missing": _MISSING, "_equal": _equal}
    try:
        exec(builtins_compile(code, "<vlm schema check>", "exec"), namespace)
    except (SyntaxError, RecursionError, MemoryError):  # e.g. nesting deeper than Python allows
        return None
    check: Check = namespace["_root"]
    return check
