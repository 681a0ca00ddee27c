"""Response validation (``autocast`` and ``response_model``): a mismatch names the field that is wrong.

``jsonschema`` is an optional extra (``airflow-provider-vlm[validation]``) and is imported only
when a task asks for ``autocast``, so DAG files parse without it.

At nightly scale the cost is in the validator, not the HTTP: checking the schema and building a
``jsonschema`` validator takes about 45 ms, and ``jsonschema`` itself about 1.6 ms per invoice.
So each schema is compiled once per process (keyed by its hash), and a response is first checked
by a plain-Python compilation of the schema (``_fastcheck``) that accepts only what ``jsonschema``
accepts; ``jsonschema`` runs only on responses that fail it (to name the field) or for schemas
that use keywords the fast check does not know.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from airflow_provider_vlm import _fastcheck
from airflow_provider_vlm.client import Prediction, ResponseValidationError, VlmError, VlmInputError

if TYPE_CHECKING:
    from airflow_provider_vlm.client import VlmClient

_MAX_MESSAGE = 300
#: Compiled schemas kept per process; a task uses one or two.
_CACHE_SIZE = 16


def field_path(parts: Iterable[Any]) -> str:
    """``$.items[0].total`` from ``["items", 0, "total"]``."""
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def schema_hash(schema: dict[str, Any]) -> str:
    """Stable hash of a schema's content (key order does not matter)."""
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class SchemaValidator:
    """One schema, checked and compiled once; ``validate`` is then cheap for every response."""

    def __init__(self, schema: dict[str, Any]) -> None:
        try:
            import jsonschema
        except ImportError:  # pragma: no cover - depends on the environment
            raise VlmInputError(
                "autocast needs the 'jsonschema' package: pip install 'airflow-provider-vlm[validation]'"
            ) from None
        validator_cls = jsonschema.validators.validator_for(schema)
        self.schema_error: jsonschema.SchemaError | None = None
        try:
            validator_cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            self.schema_error = exc
        self._validator = None if self.schema_error else validator_cls(schema)
        self._fast: Callable[[Any], bool] | None = None if self.schema_error else _fastcheck.compile(schema)

    def validate(self, response: Any, *, prediction_id: str | None = None, source: str = "schema") -> None:
        """Raise ``ResponseValidationError`` with the path of the most relevant error, if any."""
        from jsonschema.exceptions import best_match

        if self.schema_error is not None:
            raise ResponseValidationError(
                f"the {source} is not a valid JSON schema: {_short(self.schema_error.message)}",
                path=field_path(self.schema_error.absolute_path),
                prediction_id=prediction_id,
            )
        if self._fast is not None and self._fast(response):
            return
        assert self._validator is not None
        error = best_match(self._validator.iter_errors(response))
        if error is None:
            return
        path = field_path(error.absolute_path)
        raise ResponseValidationError(
            f"prediction {prediction_id} response does not match the {source} at {path}: "
            f"{_short(error.message)}",
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
    """Raise ``ResponseValidationError`` with the path of the most relevant error, if any."""
    compiled(schema).validate(response, prediction_id=prediction_id, source=source)


def validate_against_model(
    response: Any, model: type[BaseModel], *, prediction_id: str | None = None
) -> None:
    """Validate with the pydantic model itself (its own coercions and validators apply)."""
    try:
        model.model_validate(response)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = field_path(first.get("loc", ()))
        raise ResponseValidationError(
            f"prediction {prediction_id} response does not match {model.__name__} at {path}: "
            f"{_short(str(first.get('msg')))} ({exc.error_count()} error(s))",
            path=path,
            prediction_id=prediction_id,
        ) from None


class ResponseValidator:
    """What one task validates completed responses against: nothing, a domain's schema, or a model.

    ``GenerateOperator`` and ``GenerateBatchOperator`` both use it, so one response is judged
    the same way whichever operator fetched it. The domain's schema is fetched once per
    instance (one task), not once per response.
    """

    def __init__(
        self,
        *,
        autocast: bool = False,
        response_model: type[BaseModel] | None = None,
        domain: str | None = None,
    ) -> None:
        self.autocast = autocast
        self.response_model = response_model
        self.domain = domain
        self._schemas: dict[str, SchemaValidator] = {}
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self.response_model is not None or self.autocast

    def _schema_for(self, client: VlmClient, domain: str) -> SchemaValidator:
        with self._lock:
            found = self._schemas.get(domain)
            if found is None:
                found = self._schemas[domain] = compiled(client.get_schema(domain).json_schema)
        return found

    def prepare(self, client: VlmClient) -> None:
        """Fetch and compile the domain's schema now (before a long collect step)."""
        if self.autocast and self.response_model is None and self.domain:
            self._schema_for(client, self.domain)

    def __call__(self, client: VlmClient, prediction: Prediction) -> None:
        """Raise ``ResponseValidationError`` if a completed prediction's response does not match."""
        if self.response_model is not None:
            validate_against_model(prediction.response, self.response_model, prediction_id=prediction.id)
        elif self.autocast:
            name = self.domain or prediction.domain
            if not name:
                raise VlmError(f"autocast: prediction {prediction.id} has no domain to fetch a schema for")
            self._schema_for(client, name).validate(
                prediction.response, prediction_id=prediction.id, source=f"{name} schema"
            )
