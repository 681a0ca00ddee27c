"""The one response check behind ``autocast``: compiled once, offline, lazily imported, and every
schema the dev server serves compiles."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from airflow_provider_vlm.client import ConfigurationError, ResponseValidationError
from airflow_provider_vlm.client.schema_check import SchemaValidator, compiled, validate_against_schema
from airflow_provider_vlm.devserver import catalog


def test_a_schema_is_compiled_once_per_content() -> None:
    schema = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "number"}}}}
    assert compiled(schema) is compiled(json.loads(json.dumps(schema)))
    with pytest.raises(ResponseValidationError) as info:
        validate_against_schema({"items": [1, "two"]}, schema, prediction_id="p")
    assert info.value.path == "$.items[1]"


@pytest.mark.parametrize("name", sorted(catalog.domains()))
def test_every_served_domain_schema_compiles(name: str) -> None:
    assert SchemaValidator(catalog.domains()[name].json_schema).schema_error is None


def test_a_remote_ref_is_never_fetched(dev: Any) -> None:
    """Schemas come from the server: a ``$ref`` to a URL makes the schema invalid, and nothing is fetched."""
    schema = {"type": "object", "properties": {"x": {"$ref": f"{dev.base_url}/health"}}}
    with pytest.raises(ResponseValidationError, match="is not a valid JSON schema") as info:
        validate_against_schema({"x": 1}, schema, source="test schema")
    assert info.value.path == "$"
    assert "GET /health" not in dev.stats()["requests"]


def test_an_invalid_schema_is_reported_on_each_response() -> None:
    with pytest.raises(ResponseValidationError, match=r"the schema is not a valid JSON schema: .*\$\.type"):
        validate_against_schema({}, {"type": "nope"})


def test_without_the_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jsonschema_rs", None)  # as if not installed
    with pytest.raises(ConfigurationError, match=r"airflow-provider-vlm\[validation\]"):
        SchemaValidator({"type": "object"})


def test_dag_files_import_without_the_library() -> None:
    """Importing the operators, the sensor and the client does not import ``jsonschema_rs``."""
    code = (
        "import sys\n"
        "import airflow_provider_vlm.operators.generate, airflow_provider_vlm.operators.batch\n"
        "import airflow_provider_vlm.sensors.prediction, airflow_provider_vlm.client\n"
        "assert 'jsonschema_rs' not in sys.modules, 'imported at parse time'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
