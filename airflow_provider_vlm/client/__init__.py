"""HTTP client of the VLM Run API: no Airflow import, usable on its own.

``VlmClient`` (blocking) and ``AsyncVlmClient`` (asyncio) share one request/response core and one
retry policy; replies are typed pydantic models that keep unknown fields.
"""

from airflow_provider_vlm.client._retry import RetryPolicy
from airflow_provider_vlm.client._settings import DEFAULT_BASE_URL
from airflow_provider_vlm.client.async_ import AsyncVlmClient
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
    FileInfo,
    GenerationConfig,
    Media,
    Prediction,
    PredictionStatus,
    RequestMetadata,
    SchemaInfo,
)
from airflow_provider_vlm.client.sync import VlmClient

__all__ = [
    "DEFAULT_BASE_URL",
    "MEDIA",
    "APIError",
    "AsyncVlmClient",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "CreditUsage",
    "DomainInfo",
    "FileInfo",
    "GenerationConfig",
    "InvalidRequestError",
    "Media",
    "NotFoundError",
    "OutcomeUnknownError",
    "Prediction",
    "PredictionFailedError",
    "PredictionStatus",
    "PredictionTimeoutError",
    "RateLimitError",
    "RequestMetadata",
    "ResponseFormatError",
    "ResponseValidationError",
    "RetryPolicy",
    "SchemaInfo",
    "ServerError",
    "TransportError",
    "UnknownDomainError",
    "VlmClient",
    "VlmError",
    "VlmInputError",
]
