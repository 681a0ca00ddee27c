"""``autocast``: a completed response checked against its domain's JSON schema, then typed.

The verdict is ``schema_check``'s (strict JSON Schema, formats asserted), the same one the
operators, the sensor and ``@task.vlm`` give. Only a response that passed is turned into a
pydantic model, so ``prediction.response.total_amount`` reads like the official SDK's and the model
never coerces a value the check rejected (``"12.5"`` or ``true`` for a number).

The models are built from the schema without the SDK's heavy code generator. Covered: objects
(properties, required), the scalar types, arrays, ``anyOf``/``oneOf`` (nullable or not), ``allOf``
of one schema, ``$ref`` into ``$defs``/``definitions`` (recursive ones too), ``enum`` and
``const``. Anything else becomes ``Any``: the model is a typed view of a response already judged,
not a second judge. Every model keeps fields the schema does not name (``extra="allow"``), and
``model_dump(by_alias=True, exclude_unset=True)`` gives back the JSON the server sent.
"""

from __future__ import annotations

import keyword
import re
import weakref
from collections.abc import Mapping
from typing import Any, Literal, Optional, Union

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from airflow_provider_vlm.client.errors import ResponseValidationError
from airflow_provider_vlm.client.schema_check import compiled, field_path

_SCALARS: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "null": type(None),
}
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: The JSON schema each root model was built from: ``cast_response`` checks against it first.
_SCHEMAS: weakref.WeakKeyDictionary[type, dict[str, Any]] = weakref.WeakKeyDictionary()


class CastModel(BaseModel):
    """Base of every autocast model: unknown fields are kept, aliases round-trip."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())

    def as_dict(self) -> dict[str, Any]:
        """The JSON object this model was built from."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _class_name(text: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", text)
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Response"
    return name if name[0].isalpha() else f"M{name}"


def _field_name(prop: str) -> str:
    """A Python attribute for a JSON property; the property itself stays the alias."""
    name = prop if _IDENT.match(prop) else re.sub(r"\W", "_", prop).strip("_") or "field"
    if not name[0].isalpha():
        name = f"f_{name}"
    if keyword.iskeyword(name) or hasattr(CastModel, name):
        name = f"{name}_"
    return name


class _Builder:
    """Builds the models of one schema; ``$ref`` targets are built once and may be recursive."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.models: dict[str, Any] = {}
        self.building: set[str] = set()
        self.namespace: dict[str, Any] = {}

    def ref(self, ref: str) -> Any:
        parts = ref.split("/")
        if len(parts) != 3 or parts[0] != "#" or parts[1] not in ("$defs", "definitions"):
            return Any
        name = parts[2]
        if name in self.models:
            return self.models[name]
        target = (self.root.get(parts[1]) or {}).get(name)
        if not isinstance(target, dict):
            return Any
        cls_name = _class_name(name)
        if name in self.building:  # recursive: a forward reference, resolved at the end
            return cls_name
        self.building.add(name)
        built = self.type_of(target, name)
        self.building.discard(name)
        self.models[name] = built
        if isinstance(built, type):
            self.namespace[cls_name] = built
        return built

    def type_of(self, schema: Any, name: str) -> Any:
        if not isinstance(schema, dict):
            return Any
        if "$ref" in schema:
            return self.ref(str(schema["$ref"]))
        if "const" in schema:
            return Literal[schema["const"]] if _literal_ok([schema["const"]]) else Any
        if "enum" in schema:
            values = list(schema["enum"])
            if values and _literal_ok(values):
                return Literal[tuple(values)]
            return Any
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return _union([self.type_of(s, name) for s in schema[key]])
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.type_of(schema["allOf"][0], name)
        kind = schema.get("type")
        if isinstance(kind, list):
            return _union([self.type_of({**schema, "type": k}, name) for k in kind])
        if kind == "object" or (kind is None and "properties" in schema):
            if "properties" not in schema:
                return dict[str, Any]
            return self.model(schema, name)
        if kind == "array":
            items = schema.get("items")
            return list[self.type_of(items, f"{name} item")] if items else list[Any]  # type: ignore[misc]
        return _SCALARS.get(kind, Any) if isinstance(kind, str) else Any

    def model(self, schema: dict[str, Any], name: str) -> type[CastModel]:
        cls_name = _class_name(str(schema.get("title") or name))
        required = set(schema.get("required") or ())
        fields: dict[str, Any] = {}
        for prop, sub in (schema.get("properties") or {}).items():
            annotation = self.type_of(sub, f"{cls_name} {prop}")
            alias = prop if _field_name(prop) != prop else None
            if prop in required:
                fields[_field_name(prop)] = (annotation, Field(..., alias=alias))
            else:
                fields[_field_name(prop)] = (Optional[annotation], Field(None, alias=alias))  # noqa: UP045
        description = schema.get("description")
        model: type[CastModel] = pydantic.create_model(
            cls_name, __base__=CastModel, __doc__=description, **fields
        )
        self.namespace.setdefault(cls_name, model)
        return model


def _literal_ok(values: list[Any]) -> bool:
    return all(isinstance(v, (str, int, bool)) or v is None for v in values)


def _union(types: list[Any]) -> Any:
    unique = list(dict.fromkeys(types))
    if Any in unique:
        return Any
    return unique[0] if len(unique) == 1 else Union[tuple(unique)]  # noqa: UP007


def model_from_schema(schema: dict[str, Any], name: str = "Response") -> type[CastModel]:
    """The pydantic model of a JSON schema whose root is an object.

    A root that is not an object with properties gives a model that accepts any object.
    """
    builder = _Builder(schema)
    root = builder.type_of(schema, name) if "properties" in schema else None
    if not (isinstance(root, type) and issubclass(root, CastModel)):
        root = pydantic.create_model(_class_name(name), __base__=CastModel)
    for model in list(builder.namespace.values()):
        if isinstance(model, type) and issubclass(model, BaseModel):
            model.model_rebuild(_types_namespace=builder.namespace)
    _SCHEMAS[root] = schema
    return root


def schema_of(model: type[BaseModel]) -> dict[str, Any] | None:
    """The JSON schema ``model_from_schema`` built ``model`` from (``None`` for other models)."""
    return _SCHEMAS.get(model)


def explicit_schema(config: Any) -> dict[str, Any] | None:
    """The ``json_schema`` a request's config (a mapping or ``GenerationConfig``) asks for, which
    replaces the domain's own for the check and the model."""
    found = config.get("json_schema") if isinstance(config, Mapping) else getattr(config, "json_schema", None)
    return found if isinstance(found, dict) else None


def check_response(
    model: type[BaseModel], response: Any, *, prediction_id: str | None = None, source: str = "schema"
) -> None:
    """The strict check of the schema ``model`` was built from (no-op for a model of another origin)."""
    schema = schema_of(model)
    if schema is not None:
        compiled(schema).validate(response, prediction_id=prediction_id, source=source)


def cast_response(
    model: type[CastModel], response: Any, *, prediction_id: str | None = None, source: str = "schema"
) -> CastModel:
    """``response`` as ``model``, once it has passed the strict check of the schema ``model`` came from.

    A mismatch raises ``ResponseValidationError`` naming the field (``$.items[0].total``); a value
    the check rejected never reaches the model, so the model cannot coerce it.
    """
    check_response(model, response, prediction_id=prediction_id, source=source)
    try:
        return model.model_validate(response)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        path = field_path(first.get("loc", ()))
        raise ResponseValidationError(
            f"prediction {prediction_id} response does not match the {source} at {path}: "
            f"{first.get('msg')} ({exc.error_count()} error(s))",
            path=path,
            prediction_id=prediction_id,
        ) from None
