"""HTTP client of the VLM Run API: no Airflow import, usable on its own.

``VlmClient`` (blocking) and ``AsyncVlmClient`` (asyncio) share one request/response core and one
retry policy; replies are typed pydantic models that keep unknown fields. Their surface is the
official SDK's documented one: ``client.predictions``, ``client.image``, ``client.document``,
``client.audio``, ``client.video``, ``client.files``, ``client.feedback``.

Beyond that surface, this package exports what other code built on the client needs (the
provider's Airflow layer uses nothing else): the settings and their defaults, the checks of user
inputs done before anything is sent, ``duration_text`` for log lines, and the wait API for many
predictions in ``airflow_provider_vlm.client.waiting``. Modules whose names start with ``_`` are
private.
"""

from airflow_provider_vlm.client._durations import duration_text
from airflow_provider_vlm.client._inputs import check_domain, check_url, data_url, is_http_url
from airflow_provider_vlm.client._interrupt import Interrupted
from airflow_provider_vlm.client._retry import RetryPolicy, attempts_at_most
from airflow_provider_vlm.client._settings import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientSettings,
)
from airflow_provider_vlm.client.async_ import AsyncVlmClient
from airflow_provider_vlm.client.autocast import CastModel
from airflow_provider_vlm.client.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    OutcomeUnknownError,
    PredictionFailedError,
    PredictionTimeoutError,
    RateLimitError,
    ResponseFormatError,
    ResponseValidationError,
    ServerError,
    TransportError,
    UnknownDomainError,
    VlmError,
    VlmInputError,
)
from airflow_provider_vlm.client.models import (
    MEDIA,
    CreditUsage,
    DomainInfo,
    FeedbackItem,
    FeedbackListResponse,
    FeedbackSubmitResponse,
    FileInfo,
    FileResponse,
    GenerationConfig,
    Media,
    Prediction,
    PredictionResponse,
    PredictionStatus,
    RequestMetadata,
    SchemaInfo,
    SchemaResponse,
)
from airflow_provider_vlm.client.sync import VlmClient

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "MEDIA",
    "APIError",
    "AsyncVlmClient",
    "AuthenticationError",
    "CastModel",
    "ClientSettings",
    "ConfigurationError",
    "ConflictError",
    "CreditUsage",
    "DomainInfo",
    "FeedbackItem",
    "FeedbackListResponse",
    "FeedbackSubmitResponse",
    "FileInfo",
    "FileResponse",
    "GenerationConfig",
    "Interrupted",
    "InvalidRequestError",
    "Media",
    "NotFoundError",
    "OutcomeUnknownError",
    "Prediction",
    "PredictionFailedError",
    "PredictionResponse",
    "PredictionStatus",
    "PredictionTimeoutError",
    "RateLimitError",
    "RequestMetadata",
    "ResponseFormatError",
    "ResponseValidationError",
    "RetryPolicy",
    "SchemaInfo",
    "SchemaResponse",
    "ServerError",
    "TransportError",
    "UnknownDomainError",
    "VlmClient",
    "VlmError",
    "VlmInputError",
    "attempts_at_most",
    "check_domain",
    "check_url",
    "data_url",
    "duration_text",
    "is_http_url",
]
