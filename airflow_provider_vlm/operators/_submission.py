"""What one prediction request is made of, shared by ``GenerateOperator`` and ``GenerateBatchOperator``.

One place turns operator arguments into a request, a fingerprint and a submission, so the two
operators cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from airflow_provider_vlm.client import (
    GenerationConfig,
    Prediction,
    RequestMetadata,
    VlmClient,
    VlmInputError,
)
from airflow_provider_vlm.identity import fingerprint
from airflow_provider_vlm.operators._inputs import LoadedInput, request_source


def build_config(
    config: GenerationConfig | Mapping[str, Any] | None, response_model: type[BaseModel] | None
) -> dict[str, Any] | None:
    """``config`` as JSON; a ``response_model``'s JSON schema goes to ``config.json_schema``."""
    if isinstance(config, GenerationConfig):
        data: dict[str, Any] = config.model_dump(mode="json", exclude_none=True)
    elif isinstance(config, Mapping):
        data = {str(k): v for k, v in config.items() if v is not None}
    elif config is None:
        data = {}
    else:
        raise VlmInputError(f"config must be a mapping or GenerationConfig, got {type(config).__name__}")
    if response_model is not None:
        if not (isinstance(response_model, type) and issubclass(response_model, BaseModel)):
            raise VlmInputError("response_model must be a pydantic model class")
        if data.get("json_schema") is not None:
            raise VlmInputError("give either response_model or config['json_schema'], not both")
        data["json_schema"] = response_model.model_json_schema()
    return data or None


def build_metadata(metadata: RequestMetadata | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if metadata is None:
        return None
    if isinstance(metadata, RequestMetadata):
        return metadata.model_dump(mode="json", exclude_none=True) or None
    if isinstance(metadata, Mapping):
        return {str(k): v for k, v in metadata.items() if v is not None} or None
    raise VlmInputError(f"metadata must be a mapping or RequestMetadata, got {type(metadata).__name__}")


@dataclass(frozen=True)
class Submission:
    """A rendered request template; ``submit`` sends it for one input."""

    media: str
    domain: str
    model: str = "vlm-1"
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    callback_url: str | None = None
    conn_id: str = "vlm_default"

    def fingerprint(self, loaded: LoadedInput) -> str:
        """Changes whenever a retry would ask for something else (input, domain, model, config...)."""
        return fingerprint(
            media=self.media,
            domain=self.domain,
            model=self.model,
            input=loaded.identity(),
            config=self.config,
            conn_id=self.conn_id,
        )

    def submit(
        self, client: VlmClient, loaded: LoadedInput, *, batch: bool, idempotency_key: str | None
    ) -> Prediction:
        """Upload if needed (md5 dedupe), then create the prediction with the given key."""
        source = request_source(loaded, self.media)
        if "file" in source:  # upload here to keep the file's name (the client would call it upload.bin)
            source = {"file_id": client.upload_file(source.pop("file"), filename=loaded.filename).id}
        return client.generate(
            self.media,
            domain=self.domain,
            model=self.model,
            batch=batch,
            config=self.config,
            metadata=self.metadata,
            callback_url=self.callback_url,
            idempotency_key=idempotency_key,
            **source,
        )
