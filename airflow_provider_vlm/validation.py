"""Response validation (``autocast`` and ``response_model``): a mismatch names the field that is wrong.

``jsonschema`` is an optional extra (``airflow-provider-vlm[validation]``) and is imported only
when a task asks for ``autocast``, so DAG files parse without it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError

from airflow_provider_vlm.client import ResponseValidationError, VlmInputError

_MAX_MESSAGE = 300


def field_path(parts: Iterable[Any]) -> str:
    """``$.items[0].total`` from ``["items", 0, "total"]``."""
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def validate_against_schema(
    response: Any, schema: dict[str, Any], *, prediction_id: str | None = None, source: str = "schema"
) -> None:
    """Raise ``ResponseValidationError`` with the path of the most relevant error, if any."""
    try:
        import jsonschema
        from jsonschema.exceptions import best_match
    except ImportError:  # pragma: no cover - depends on the environment
        raise VlmInputError(
            "autocast needs the 'jsonschema' package: pip install 'airflow-provider-vlm[validation]'"
        ) from None
    validator_cls = jsonschema.validators.validator_for(schema)
    try:
        validator_cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ResponseValidationError(
            f"the {source} is not a valid JSON schema: {_short(exc.message)}",
            path=field_path(exc.absolute_path),
            prediction_id=prediction_id,
        ) from None
    error = best_match(validator_cls(schema).iter_errors(response))
    if error is None:
        return
    path = field_path(error.absolute_path)
    raise ResponseValidationError(
        f"prediction {prediction_id} response does not match the {source} at {path}: {_short(error.message)}",
        path=path,
        prediction_id=prediction_id,
    )


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
