"""What one prediction request is made of, shared by ``GenerateOperator`` and ``GenerateBatchOperator``.

One place turns operator arguments into a request, a fingerprint and a submission, so the two
operators cannot drift apart. A submission has two steps, because the durable record's intent
goes between them: ``prepare`` (upload the input, which bills nothing and may be retried) and
``create`` (the billed call, sent once per ``Idempotency-Key``).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from airflow_provider_vlm.client import (
    GenerationConfig,
    Prediction,
    RequestMetadata,
    VlmClient,
    VlmError,
    VlmInputError,
)
from airflow_provider_vlm.identity import fingerprint
from airflow_provider_vlm.operators._inputs import LoadedInput, request_source

log = logging.getLogger(__name__)


def naming_input(exc: VlmError, label: str) -> VlmError:
    """The same error, its message prefixed with the input it is about (a 413 names the file)."""
    named = copy.copy(exc)
    named.message = f"{label}: {exc.message}"
    named.args = (named.message,)
    return named


def _folded(
    data: dict[str, Any], options: Mapping[str, Any] | None, where: str, owner: str
) -> dict[str, Any]:
    """``data`` with the operator's own arguments (``options``) added; a value given both ways,
    differently, is an error naming both, so the request never depends on which one wins."""
    for name, value in (options or {}).items():
        if value is None:
            continue
        given = data.get(name)
        if given is not None and given != value:
            raise VlmInputError(
                f"{owner}: {name}={value!r} clashes with {where}[{name!r}]={given!r}; set it in one place"
            )
        data[name] = value
    return data


def build_config(
    config: GenerationConfig | Mapping[str, Any] | None,
    response_model: type[BaseModel] | None,
    options: Mapping[str, Any] | None = None,
    *,
    owner: str = "operator",
) -> dict[str, Any] | None:
    """``config`` as JSON; a ``response_model``'s JSON schema goes to ``config.json_schema``, the
    operator's ``service_tier``/``confidence``/``grounding`` (``options``) to their own keys."""
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
    _folded(data, options, "config", owner)
    return data or None


def build_metadata(
    metadata: RequestMetadata | Mapping[str, Any] | None,
    options: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
    *,
    owner: str = "operator",
) -> dict[str, Any] | None:
    """``metadata`` as JSON with the operator's ``allow_training``/``environment`` (``options``),
    then the connection's (``defaults``) for what neither set: the operator wins over the connection."""
    if metadata is None:
        data: dict[str, Any] = {}
    elif isinstance(metadata, RequestMetadata):
        data = metadata.model_dump(mode="json", exclude_none=True)
    elif isinstance(metadata, Mapping):
        data = {str(k): v for k, v in metadata.items() if v is not None}
    else:
        raise VlmInputError(f"metadata must be a mapping or RequestMetadata, got {type(metadata).__name__}")
    _folded(data, options, "metadata", owner)
    for name, value in (defaults or {}).items():
        if value is not None and data.get(name) is None:
            data[name] = value
    return data or None


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

    def prepare(self, client: VlmClient, loaded: LoadedInput, *, reuse: bool = True) -> dict[str, Any]:
        """The request's source keyword; a local file is uploaded here under its own name.

        ``reuse`` first asks whether the same bytes are stored already (md5 lookup): worth a
        request when they may have been uploaded before, not for an input never seen.
        An input the server refuses (413 too large, 415, 400) raises its error naming the input.
        """
        source = request_source(loaded, self.media)
        if "file" not in source:
            return source
        content = source.pop("file")
        try:
            # The client's own retries are the whole budget of the call (``max_retries``).
            uploaded = client.files.upload(content, filename=loaded.filename, force=not reuse)
        except VlmError as exc:
            if exc.input_problem:
                raise naming_input(exc, f"upload of {loaded.label} refused") from exc
            raise
        return {"file_id": uploaded.id}

    def create(
        self, client: VlmClient, source: Mapping[str, Any], *, batch: bool, idempotency_key: str | None
    ) -> Prediction:
        """The billed call: create the prediction with the given key."""
        return client.for_media(self.media).generate(
            domain=self.domain,
            model=self.model,
            batch=batch,
            config=self.config,
            metadata=self.metadata,
            callback_url=self.callback_url,
            idempotency_key=idempotency_key,
            **source,
        )
