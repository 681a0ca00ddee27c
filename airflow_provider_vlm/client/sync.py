"""``VlmClient``: the blocking client, a thin driver over the shared operations."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

from airflow_provider_vlm.client import _ops
from airflow_provider_vlm.client._core import (
    Call,
    Clock,
    Now,
    Operation,
    Parallel,
    ReadFile,
    Sleep,
    error_from_transport,
    interpret,
    read_local_file,
)
from airflow_provider_vlm.client._inputs import check_media
from airflow_provider_vlm.client._retry import RetryPolicy
from airflow_provider_vlm.client._settings import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientSettings,
)
from airflow_provider_vlm.client.autocast import CastModel
from airflow_provider_vlm.client.errors import VlmError
from airflow_provider_vlm.client.models import (
    DomainInfo,
    FileInfo,
    GenerationConfig,
    Prediction,
    RequestMetadata,
    SchemaInfo,
)
from airflow_provider_vlm.client.resources import (
    AudioPredictions,
    DocumentPredictions,
    FilePredictions,
    Files,
    ImagePredictions,
    Predictions,
    VideoPredictions,
)

T = TypeVar("T")
log = logging.getLogger("airflow_provider_vlm.client")


class VlmClient:
    """Blocking client of the VLM Run API (and wire-compatible servers)."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        verify: bool = True,
        transport: httpx.BaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.settings = ClientSettings(api_key, base_url, timeout, max_retries, verify)
        self.retry_policy = retry_policy or self.settings.retry_policy()
        self._http = httpx.Client(transport=transport, **self.settings.httpx_options())  # type: ignore[arg-type]
        self._models: _ops.ModelCache = {}
        #: The documented resources (the SDK's names); see ``docs/client.md``.
        self.predictions = Predictions(self)
        self.image = ImagePredictions(self)
        self.document = DocumentPredictions(self)
        self.audio = AudioPredictions(self)
        self.video = VideoPredictions(self)
        self.files = Files(self)

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    def __repr__(self) -> str:
        return f"VlmClient(base_url={self.base_url!r})"

    def __enter__(self) -> VlmClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- driver ------------------------------------------------------------------------------

    def _send(self, call: Call) -> Any:
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    json=call.json,
                    files=call.files,
                    headers=call.headers,
                )
            except httpx.TransportError as exc:
                delay = self.retry_policy.delay_after_error(exc, attempt, creates=call.creates)
                if delay is None:
                    raise error_from_transport(call, exc) from None
                reason = type(exc).__name__
            else:
                delay = self.retry_policy.delay_after_response(response, attempt, creates=call.creates)
                if delay is None:
                    return interpret(call, response)
                reason = f"HTTP {response.status_code}"
            attempt += 1
            log.warning(
                "%s: %s, retry %d of %d in %.1fs",
                call.label,
                reason,
                attempt,
                self.retry_policy.max_retries,
                delay,
            )
            time.sleep(delay)

    def _run(self, operation: Operation[T]) -> T:
        result: Any = None
        try:
            while True:
                step = operation.send(result)
                if isinstance(step, Call):
                    result = self._send(step)
                elif isinstance(step, Sleep):
                    time.sleep(step.seconds)
                    result = None
                elif isinstance(step, ReadFile):
                    result = read_local_file(step.path)
                elif isinstance(step, Clock):
                    result = time.monotonic()
                elif isinstance(step, Now):
                    result = time.time()
                elif isinstance(step, Parallel):  # one after the other: a worker holds one slot
                    result = [self._run_caught(op) for op in step.operations]
                else:  # pragma: no cover - a new step type without a driver branch is a bug
                    raise TypeError(f"unknown step {step!r}")
        except StopIteration as done:
            return done.value

    def _run_caught(self, operation: Operation[T]) -> T | VlmError:
        try:
            return self._run(operation)
        except VlmError as exc:
            return exc

    # --- the documented top-level calls (the SDK's names) ----------------------------------

    def healthcheck(self) -> bool:
        """True when the server is up and the key is valid (else a typed error)."""
        return self._run(_ops.health())

    def get_type(
        self, domain: str, config: GenerationConfig | Mapping[str, Any] | None = None
    ) -> type[CastModel]:
        """The domain's result as a pydantic model (what ``autocast=True`` casts to), cached per client."""
        return self._run(_ops.response_model(domain, config, self._models))

    def for_media(self, media: str) -> ImagePredictions | FilePredictions:
        """The resource of a media name (``"document"`` gives ``client.document``), for media held as data."""
        resources: dict[str, ImagePredictions | FilePredictions] = {
            "image": self.image,
            "document": self.document,
            "audio": self.audio,
            "video": self.video,
        }
        return resources[check_media(media)]

    # --- flat methods, kept until their callers use the resources above --------------------

    def health(self) -> bool:
        """True when the server is up and the key is valid (else a typed error)."""
        return self._run(_ops.health())

    def get_prediction(self, prediction_id: str) -> Prediction:
        return self._run(_ops.get_prediction(prediction_id))

    def list_predictions(self, skip: int = 0, limit: int = 10) -> list[Prediction]:
        """One page, newest first."""
        return self._run(_ops.list_predictions(skip, limit))

    def iter_predictions(self, page_size: int = 100) -> Iterator[Prediction]:
        """Every prediction, newest first, one page request at a time."""
        skip = 0
        while True:
            page = self.list_predictions(skip=skip, limit=page_size)
            yield from page
            if len(page) < page_size:
                return
            skip += page_size

    def find_predictions(self, ids: Collection[str], page_size: int = 1000) -> dict[str, Prediction]:
        """Many predictions in about ``len(ids) / page_size`` list requests; see ``_ops.find_predictions``."""
        return self._run(_ops.find_predictions(ids, page_size))

    def wait(
        self,
        prediction_id: str,
        timeout: float = 60.0,
        sleep: float = 1.0,
        *,
        backoff: float = 1.0,
        max_sleep: float = 30.0,
        raise_on_failure: bool = True,
    ) -> Prediction:
        """Poll until terminal; ``failed`` raises ``PredictionFailedError`` at once, not at the timeout."""
        return self._run(
            _ops.wait(
                prediction_id,
                timeout,
                sleep,
                backoff=backoff,
                max_sleep=max_sleep,
                raise_on_failure=raise_on_failure,
            )
        )

    def generate(
        self,
        media: str,
        *,
        domain: str,
        file: _ops.FileInput | None = None,
        file_id: str | None = None,
        url: str | None = None,
        images: Sequence[_ops.ImageInput] | None = None,
        model: str = "vlm-1",
        batch: bool = True,
        config: GenerationConfig | Mapping[str, Any] | None = None,
        metadata: RequestMetadata | Mapping[str, Any] | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> Prediction:
        return self._run(
            _ops.generate(
                media,
                domain=domain,
                file=file,
                file_id=file_id,
                url=url,
                images=images,
                model=model,
                batch=batch,
                config=config,
                metadata=metadata,
                callback_url=callback_url,
                idempotency_key=idempotency_key,
            )
        )

    def generate_schema(
        self,
        media: str,
        *,
        file: _ops.FileInput | None = None,
        file_id: str | None = None,
        url: str | None = None,
        images: Sequence[_ops.ImageInput] | None = None,
        model: str = "vlm-1",
        config: GenerationConfig | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Prediction:
        return self._run(
            _ops.generate_schema(
                media,
                file=file,
                file_id=file_id,
                url=url,
                images=images,
                model=model,
                config=config,
                idempotency_key=idempotency_key,
            )
        )

    def upload_file(
        self, file: _ops.FileInput, *, filename: str | None = None, purpose: str = "assistants"
    ) -> FileInfo:
        return self._run(_ops.upload_file(file, filename=filename, purpose=purpose))

    def get_file(self, file_id: str) -> FileInfo:
        return self._run(_ops.get_file(file_id))

    def list_files(self, skip: int = 0, limit: int = 10) -> list[FileInfo]:
        return self._run(_ops.list_files(skip, limit))

    def get_schema(
        self, domain: str, config: GenerationConfig | Mapping[str, Any] | None = None
    ) -> SchemaInfo:
        return self._run(_ops.get_schema(domain, config))

    def list_domains(self) -> list[DomainInfo]:
        return self._run(_ops.list_domains())
