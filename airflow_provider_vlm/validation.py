"""Response validation of the Airflow layer (``autocast`` and ``response_model``): a mismatch names the field.

``autocast`` asks ``client.schema_check``, the one definition the client's
``generate(autocast=True)`` uses too, so an operator, the batch, the sensor and ``@task.vlm`` give a
response the same verdict as the client (strict JSON Schema, formats asserted, see
``docs/validation.md``). ``jsonschema-rs`` is an optional extra
(``airflow-provider-vlm[validation]``), imported only when a task asks for ``autocast``, so DAG
files parse without it. Each schema is compiled once per process (keyed by its hash) and once
fetched per task, however many responses the task judges.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from airflow_provider_vlm.client import (
    GenerationConfig,
    Prediction,
    ResponseValidationError,
    VlmError,
)
from airflow_provider_vlm.client.autocast import explicit_schema
from airflow_provider_vlm.client.schema_check import (
    SchemaValidator,
    compiled,
    field_path,
    schema_hash,
    validate_against_schema,
)

if TYPE_CHECKING:
    from airflow_provider_vlm.client import VlmClient

__all__ = [
    "ResponseValidator",
    "SchemaValidator",
    "compiled",
    "field_path",
    "schema_hash",
    "validate_against_model",
    "validate_against_schema",
]

_MAX_MESSAGE = 300


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


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
        config: GenerationConfig | Mapping[str, Any] | None = None,
    ) -> None:
        self.autocast = autocast
        self.response_model = response_model
        self.domain = domain
        self.config = config
        self._schemas: dict[str, SchemaValidator] = {}
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self.response_model is not None or self.autocast

    def _schema_for(self, client: VlmClient, domain: str) -> SchemaValidator:
        with self._lock:
            found = self._schemas.get(domain)
            if found is None:
                found = self._schemas[domain] = compiled(self._schema_of(client, domain))
        return found

    def _schema_of(self, client: VlmClient, domain: str) -> dict[str, Any]:
        """The schema the client's ``autocast`` casts to: the config's ``json_schema``, else the domain's."""
        schema = explicit_schema(self.config)
        return schema if schema is not None else client.get_schema(domain, self.config).json_schema

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
