"""Whether a response fits a JSON schema: the one definition behind every ``autocast``.

The client's ``generate(autocast=True)``, ``GenerateOperator``, ``GenerateBatchOperator``,
``PredictionSensor`` and ``@task.vlm`` all ask this module, so a response gets the same verdict in a
notebook and in the nightly run. The rules are JSON Schema's, strictly (the schema's own dialect,
Draft 2020-12 by default), with ``format`` asserted: ``"12.5"`` is not a number, ``true`` is not a
number, ``"05.03.2018"`` is not a ``date``. Unknown formats stay annotations.

The work is done by ``jsonschema-rs`` (the ``validation`` extra), imported only when a schema is
first compiled, so DAG files parse without it. Schemas come from the server: they are compiled
offline (a ``$ref`` to a URL or file makes the schema invalid; nothing is fetched), once per
process and schema content.

A response asked for with ``confidence``/``grounding`` carries a sibling ``X_metadata`` beside
each field ``X``. Domain schemas say nothing of them; where a schema forbids keys it does not list
(``additionalProperties: false``), the response is judged without those siblings, so asking for
confidence never turns a valid result into a validation failure. The siblings themselves are kept.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from airflow_provider_vlm.client.errors import ConfigurationError, ResponseValidationError

if TYPE_CHECKING:
    import jsonschema_rs

EXTRA_HINT = "pip install 'airflow-provider-vlm[validation]'"
_MAX_MESSAGE = 300
#: Compiled schemas kept per process; a task uses one or two.
_CACHE_SIZE = 16
#: Error kinds that combine the verdicts of subschemas; the failing branch names the field better.
_COMBINERS = ("anyOf", "oneOf")


def field_path(parts: Iterable[Any]) -> str:
    """``$.items[0].total`` from ``["items", 0, "total"]``."""
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def schema_hash(schema: dict[str, Any]) -> str:
    """Stable hash of a schema's content (key order does not matter)."""
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


METADATA_SUFFIX = "_metadata"


def without_metadata(value: Any) -> Any:
    """``value`` without the ``X_metadata`` siblings of its fields, at every depth.

    Only a sibling of a key that is present (``total_amount_metadata`` beside ``total_amount``)
    is left out: a field of the schema that merely ends in ``_metadata`` is kept.
    """
    if isinstance(value, dict):
        return {
            k: without_metadata(v)
            for k, v in value.items()
            if not (
                isinstance(k, str) and k.endswith(METADATA_SUFFIX) and k[: -len(METADATA_SUFFIX)] in value
            )
        }
    if isinstance(value, list):
        return [without_metadata(v) for v in value]
    return value


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _library() -> Any:
    try:
        import jsonschema_rs
    except ImportError:
        raise ConfigurationError(f"autocast needs the 'jsonschema-rs' package: {EXTRA_HINT}") from None
    return jsonschema_rs


def _refuse(uri: str) -> Any:
    """The retriever: a schema from the server never makes this process fetch anything."""
    raise ValueError(f"remote $ref {uri!r} is not followed")


def _type_only(errors: list[jsonschema_rs.ValidationError], at: list[str | int]) -> bool:
    """The branch failed only because the value is not of its type (e.g. the ``null`` of an optional)."""
    return len(errors) == 1 and errors[0].kind.name == "type" and errors[0].instance_path == at


def _relevant(error: jsonschema_rs.ValidationError) -> tuple[jsonschema_rs.ValidationError, str]:
    """The error that names the field, and its message.

    An ``anyOf``/``oneOf`` error (every optional field of a pydantic-made schema is
    ``anyOf [X, null]``) is replaced by the error of the branch whose type the value has, so
    ``$.items[0].total`` is reported rather than ``$.items``. When no branch has the value's type,
    the message lists the types that would do.
    """
    while error.kind.name in _COMBINERS:
        branches: list[list[jsonschema_rs.ValidationError]] = getattr(error.kind, "context", None) or []
        typed = [b for b in branches if b and not _type_only(b, error.instance_path)]
        if len(typed) != 1:
            wanted = _wanted_types(branches) if not typed else []
            if wanted:
                return error, f"{json.dumps(error.instance)[:80]} is not of type {' or '.join(wanted)}"
            return error, error.message
        error = typed[0][0]
    return error, error.message


def _wanted_types(branches: list[list[jsonschema_rs.ValidationError]]) -> list[str]:
    wanted: list[str] = []
    for branch in branches:
        kind = branch[0].kind.as_dict() if branch else {}
        types = kind.get("types") or kind.get("expected") or []
        for name in [types] if isinstance(types, str) else types:
            if isinstance(name, str) and name not in wanted:
                wanted.append(name)
    return wanted


class SchemaValidator:
    """One schema, checked and compiled once; ``validate`` is then cheap for every response."""

    def __init__(self, schema: dict[str, Any]) -> None:
        library = _library()
        self.schema_error: str | None = None
        self._validator: Any = None
        try:
            self._validator = library.validator_for(
                schema, validate_formats=True, ignore_unknown_formats=True, retriever=_refuse
            )
        except library.ValidationError as exc:
            self.schema_error = f"{_short(exc.message)} (at {field_path(exc.instance_path)})"
        except (ValueError, TypeError) as exc:  # a $ref it would have to fetch, a non-JSON value
            self.schema_error = _short(str(exc))

    def is_valid(self, response: Any) -> bool:
        """The verdict alone (the fast path: no error objects are built)."""
        if self.schema_error is not None:
            return False
        return bool(self._validator.is_valid(response)) or bool(
            self._validator.is_valid(without_metadata(response))
        )

    def validate(self, response: Any, *, prediction_id: str | None = None, source: str = "schema") -> None:
        """Raise ``ResponseValidationError`` naming the failing field's path, if the response does not fit."""
        if self.schema_error is not None:
            raise ResponseValidationError(
                f"the {source} is not a valid JSON schema: {self.schema_error}",
                path="$",
                prediction_id=prediction_id,
            )
        if self._validator.is_valid(response):
            return
        response = without_metadata(response)
        if self._validator.is_valid(response):
            return
        first = next(iter(self._validator.iter_errors(response)))
        error, message = _relevant(first)
        parts = list(error.instance_path)
        if error.kind.name == "required":  # the missing field's own path, not its parent's
            parts.append(str(getattr(error.kind, "property", "")))
        path = field_path(parts)
        raise ResponseValidationError(
            f"prediction {prediction_id} response does not match the {source} at {path}: {_short(message)}",
            path=path,
            prediction_id=prediction_id,
        )


_compiled: dict[str, SchemaValidator] = {}
_compiled_lock = threading.Lock()


def compiled(schema: dict[str, Any]) -> SchemaValidator:
    """The ``SchemaValidator`` of this schema, built at most once per process (keyed by its hash)."""
    key = schema_hash(schema)
    with _compiled_lock:
        found = _compiled.get(key)
    if found is not None:
        return found
    built = SchemaValidator(schema)
    with _compiled_lock:
        if len(_compiled) >= _CACHE_SIZE:
            _compiled.pop(next(iter(_compiled)))
        return _compiled.setdefault(key, built)


def validate_against_schema(
    response: Any, schema: dict[str, Any], *, prediction_id: str | None = None, source: str = "schema"
) -> None:
    """Raise ``ResponseValidationError`` with the path of the failing field, if any."""
    compiled(schema).validate(response, prediction_id=prediction_id, source=source)
