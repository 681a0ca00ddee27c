"""What ``GenerateOperator`` and ``GenerateBatchOperator`` share: request arguments and task identity.

Both operators take the same request arguments (media, domain, model, config, metadata,
callback URL, autocast or response model, timings, connection); one mixin checks and stores
them and builds the ``Submission``, so the two operators cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property
from typing import Any

from pydantic import BaseModel

from airflow_provider_vlm.client import GenerationConfig, RequestMetadata, VlmInputError
from airflow_provider_vlm.durable import clear_number, task_identity
from airflow_provider_vlm.hooks.vlm import VlmHook, check_max_retries, defer_after_seconds
from airflow_provider_vlm.operators._submission import Submission, build_config, build_metadata
from airflow_provider_vlm.validation import ResponseValidator

__all__ = [
    "DEFER_GRACE",
    "PredictionRequestMixin",
    "check_max_retries",
    "clear_number",
    "defer_after_seconds",
    "seconds",
    "task_identity",
]

#: Added to the remaining wait for ``defer(timeout=...)``: only a backstop behind the trigger's deadline.
DEFER_GRACE = 60.0


def seconds(value: float | timedelta | None, *, name: str) -> float | None:
    if value is None:
        return None
    total = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if total <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return total


class PredictionRequestMixin:
    """Request arguments of the prediction operators, checked at DAG parse time where possible."""

    media: str
    domain: str
    model: str
    config: GenerationConfig | Mapping[str, Any] | None
    metadata: RequestMetadata | Mapping[str, Any] | None
    callback_url: str | None
    autocast: bool
    response_model: type[BaseModel] | None
    poll_interval: float
    max_poll_interval: float
    timeout: float | None
    vlm_conn_id: str
    max_retries: int | None

    def _init_request(
        self,
        *,
        owner: str,
        media: str,
        domain: str,
        model: str,
        config: GenerationConfig | Mapping[str, Any] | None,
        metadata: RequestMetadata | Mapping[str, Any] | None,
        callback_url: str | None,
        autocast: bool,
        response_model: type[BaseModel] | None,
        poll_interval: float | timedelta,
        max_poll_interval: float | timedelta,
        timeout: float | timedelta | None,
        vlm_conn_id: str,
        max_retries: int | None = None,
    ) -> None:
        if autocast and response_model is not None:
            raise VlmInputError(f"{owner}: give autocast=True or response_model, not both")
        if response_model is not None and (config is None or isinstance(config, (Mapping, GenerationConfig))):
            build_config(config, response_model)  # a bad model or a json_schema clash fails at parse time
        self.media = media
        self.domain = domain
        self.model = model
        self.config = config
        self.metadata = metadata
        self.callback_url = callback_url
        self.autocast = autocast
        self.response_model = response_model
        self.poll_interval = seconds(poll_interval, name="poll_interval") or 5.0
        self.max_poll_interval = max(
            seconds(max_poll_interval, name="max_poll_interval") or 30.0, self.poll_interval
        )
        self.timeout = seconds(timeout, name="timeout")
        self.vlm_conn_id = vlm_conn_id
        self.max_retries = check_max_retries(max_retries, owner=owner)

    @cached_property
    def hook(self) -> VlmHook:
        return VlmHook(self.vlm_conn_id, max_retries=self.max_retries)

    def response_validator(self) -> ResponseValidator:
        """How completed responses are judged: the same for one input or many (one per task)."""
        return ResponseValidator(
            autocast=self.autocast,
            response_model=self.response_model,
            domain=self.domain,
            config=self.config,
        )

    def submission(self) -> Submission:
        """The rendered request, built the same way for one input or many."""
        return Submission(
            media=self.media,
            domain=self.domain,
            model=self.model,
            config=build_config(self.config, self.response_model),
            metadata=build_metadata(self.metadata),
            callback_url=self.callback_url,
            conn_id=self.vlm_conn_id,
        )
