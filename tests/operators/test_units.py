"""Parse-time checks, the default retry policy, validation paths and the link (no Airflow run)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from airflow.sdk import RetryAction
from pydantic import BaseModel

from airflow_provider_vlm.client import (
    AuthenticationError,
    OutcomeUnknownError,
    PredictionFailedError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    VlmInputError,
)
from airflow_provider_vlm.links import prediction_url
from airflow_provider_vlm.operators.generate import GenerateOperator
from airflow_provider_vlm.retry_policy import VlmRetryPolicy
from airflow_provider_vlm.sensors.prediction import PredictionSensor
from airflow_provider_vlm.validation import field_path, validate_against_model, validate_against_schema


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"file": "a.pdf", "url": "https://x.example/a.pdf"}, "file and url"),
        ({}, "none of them"),
        ({"images": [], "media": "image"}, "images is empty"),
        ({"url": "ftp://x.example/a.pdf"}, "http"),
        ({"file": "a.pdf", "media": "pdf"}, "media"),
        ({"file": "a.pdf", "domain": "Invoice"}, "domain"),
        ({"images": ["a.png"], "media": "document"}, "images"),
        ({"file": "invoice_march"}, "not an existing path or a URI; .* pass file_id='invoice_march'"),
        ({"file": "a.pdf", "file_id": "f-123"}, "file and file_id"),
        ({"file_id": ""}, "file_id must be a non-empty string"),
        ({"file": "  "}, "file is an empty string"),
    ],
)
def test_wrong_arguments_fail_at_parse_time(kwargs: dict, message: str) -> None:
    kwargs.setdefault("domain", "document.invoice")
    with pytest.raises(VlmInputError, match=message):
        GenerateOperator(task_id="t", **kwargs)


def test_templates_are_checked_after_rendering() -> None:
    op = GenerateOperator(task_id="t", domain="{{ params.d }}", url="{{ params.u }}")
    assert {"file", "file_id", "url", "images", "domain", "config", "metadata"} <= set(op.template_fields)
    # A templated file is checked once rendered, on the worker.
    GenerateOperator(task_id="u", domain="document.invoice", file="{{ params.name }}")


def test_a_string_is_never_sent_as_a_file_id() -> None:
    from airflow_provider_vlm.operators._inputs import load_input

    with pytest.raises(VlmInputError, match=r"file not found: 'invoice_march'.*file_id="):
        load_input(file="invoice_march")
    with pytest.raises(VlmInputError, match=r"file not found: .*march\.pdf"):
        load_input(file="no-such-folder/march.pdf")
    loaded = load_input(file_id="file-abc123")
    assert loaded.file_id == "file-abc123" and loaded.content is None


def test_default_retry_policy_is_set_and_replaceable() -> None:
    assert isinstance(
        GenerateOperator(task_id="a", domain="document.invoice", file="x.pdf").retry_policy, VlmRetryPolicy
    )
    assert (
        GenerateOperator(task_id="b", domain="document.invoice", file="x.pdf", retry_policy=None).retry_policy
        is None
    )
    assert isinstance(PredictionSensor(task_id="c", prediction_id="p").retry_policy, VlmRetryPolicy)


@pytest.mark.parametrize(
    ("error", "action"),
    [
        (AuthenticationError("bad key", status_code=401), RetryAction.FAIL),
        (VlmInputError("bad input"), RetryAction.FAIL),
        (ResponseValidationError("bad", path="$.x"), RetryAction.FAIL),
        (RateLimitError("slow down", status_code=429), RetryAction.RETRY),
        (ServerError("boom", status_code=500), RetryAction.DEFAULT),
        (OutcomeUnknownError("lost", cause=ServerError("boom")), RetryAction.DEFAULT),
        (PredictionFailedError("p", "engine failed"), RetryAction.DEFAULT),
    ],
)
def test_retry_policy_actions(error: Exception, action: RetryAction) -> None:
    assert VlmRetryPolicy().evaluate(error, 1, 3).action is action


def test_rate_limit_retry_waits_retry_after() -> None:
    decision = VlmRetryPolicy().evaluate(RateLimitError("slow", retry_after=42.0), 1, 3)
    assert decision.action is RetryAction.RETRY and decision.retry_delay == timedelta(seconds=42)


def test_schema_error_names_the_field_path() -> None:
    schema = {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {"type": "object", "properties": {"total": {"type": "number"}}},
            }
        },
    }
    with pytest.raises(ResponseValidationError) as info:
        validate_against_schema({"items": [{"total": 1}, {"total": "ten"}]}, schema, prediction_id="p")
    assert info.value.path == "$.items[1].total"
    assert "$.items[1].total" in str(info.value)
    validate_against_schema({"items": [{"total": 1}]}, schema)


def test_model_error_names_the_field_path() -> None:
    class Invoice(BaseModel):
        total: float

    with pytest.raises(ResponseValidationError) as info:
        validate_against_model({"total": "n/a"}, Invoice, prediction_id="p")
    assert info.value.path == "$.total"


def test_field_path() -> None:
    assert field_path([]) == "$"
    assert field_path(["a", 0, "b"]) == "$.a[0].b"


def test_prediction_url() -> None:
    assert prediction_url("https://app.example/", "p/1") == "https://app.example/predictions/p%2F1"
    assert prediction_url(None, "p1") == ""
    assert prediction_url("https://app.example", None) == ""
