"""What ``GenerateOperator`` and ``GenerateBatchOperator`` share: request arguments and task identity.

Both operators take the same request arguments (media, domain, model, config, metadata,
callback URL, autocast or response model, timings, connection; the cost and privacy choices
``service_tier``, ``confidence``, ``grounding``, ``allow_training``, ``environment`` and the
``max_credits`` budget); one mixin checks and stores them and builds the ``Submission``, so the
two operators cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property
from typing import Any

from pydantic import BaseModel

from airflow_provider_vlm.client import GenerationConfig, RequestMetadata, VlmInputError
from airflow_provider_vlm.client.pricing import billed_tier, check_tier
from airflow_provider_vlm.durable import clear_number, task_identity
from airflow_provider_vlm.hooks.vlm import ENVIRONMENTS, VlmHook, check_max_retries, defer_after_seconds
from airflow_provider_vlm.operators._budget import check_max_credits
from airflow_provider_vlm.operators._inputs import is_template
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
    service_tier: str | None
    confidence: bool | None
    grounding: bool | None
    allow_training: bool | None
    environment: str | None
    max_credits: float | str | None

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
        service_tier: str | None = None,
        confidence: bool | None = None,
        grounding: bool | None = None,
        allow_training: bool | None = None,
        environment: str | None = None,
        max_credits: float | str | None = None,
    ) -> None:
        if autocast and response_model is not None:
            raise VlmInputError(f"{owner}: give autocast=True or response_model, not both")
        if not is_template(service_tier):
            check_tier(service_tier, owner=f"{owner}: service_tier")
        for name, flag in (
            ("confidence", confidence),
            ("grounding", grounding),
            ("allow_training", allow_training),
        ):
            if flag is not None and not isinstance(flag, bool):
                raise VlmInputError(f"{owner}: {name} must be True, False or None, got {flag!r}")
        if environment is not None and not is_template(environment) and environment not in ENVIRONMENTS:
            raise VlmInputError(
                f"{owner}: environment must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}"
            )
        self.service_tier = service_tier
        self.confidence = confidence
        self.grounding = grounding
        self.allow_training = allow_training
        self.environment = environment
        self.max_credits = check_max_credits(max_credits, owner=owner, media=media)
        if config is None or isinstance(config, (Mapping, GenerationConfig)):
            # A bad model, a json_schema clash or an argument that clashes with config fails at parse time.
            build_config(config, response_model, self._config_options(), owner=owner)
        if metadata is None or isinstance(metadata, (Mapping, RequestMetadata)):
            build_metadata(metadata, self._metadata_options(), owner=owner)
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

    def _config_options(self) -> dict[str, Any]:
        """The operator's own ``GenerationConfig`` arguments, folded into ``config``."""
        return {"service_tier": self.service_tier, "confidence": self.confidence, "grounding": self.grounding}

    def _metadata_options(self) -> dict[str, Any]:
        """The operator's own ``RequestMetadata`` arguments, folded into ``metadata``."""
        return {"allow_training": self.allow_training, "environment": self.environment}

    def requested_tier(self) -> str:
        """The tier the predictions are billed at (``standard`` when none is asked for)."""
        config = build_config(self.config, None, self._config_options()) or {}
        return billed_tier(config.get("service_tier"))

    def submission(self) -> Submission:
        """The rendered request, built the same way for one input or many: the operator's
        arguments over the connection's ``allow_training``/``environment``."""
        owner = getattr(self, "task_id", type(self).__name__)
        if self.service_tier is not None:
            check_tier(self.service_tier, owner=f"{owner}: service_tier")  # rendered now
        if self.environment is not None and self.environment not in ENVIRONMENTS:
            raise VlmInputError(
                f"{owner}: environment must be one of {', '.join(ENVIRONMENTS)}, got {self.environment!r}"
            )
        return Submission(
            media=self.media,
            domain=self.domain,
            model=self.model,
            config=build_config(self.config, self.response_model, self._config_options(), owner=owner),
            metadata=build_metadata(
                self.metadata, self._metadata_options(), self.hook.request_metadata(), owner=owner
            ),
            callback_url=self.callback_url,
            conn_id=self.vlm_conn_id,
        )
