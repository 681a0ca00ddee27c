"""``VlmClient``: the blocking client, a thin driver over the shared operations."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
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
from airflow_provider_vlm.client._interrupt import Interruption
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
    GenerationConfig,
    SchemaInfo,
)
from airflow_provider_vlm.client.resources import (
    AudioPredictions,
    DocumentPredictions,
    Feedback,
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
        key_owner: str | None = None,
    ) -> None:
        self.settings = ClientSettings(api_key, base_url, timeout, max_retries, verify, key_owner)
        self.retry_policy = retry_policy or self.settings.retry_policy()
        self._http = httpx.Client(transport=transport, **self.settings.httpx_options())  # type: ignore[arg-type]
        self._models: _ops.ModelCache = {}
        #: ``interruption.set(reason)`` ends every sleep and the next attempt of this client's
        #: calls with ``Interrupted`` (a task's ``on_kill``: SIGTERM, mark failed, timeout).
        self.interruption = Interruption()
        #: The documented resources (the SDK's names); see ``docs/client.md``.
        self.predictions = Predictions(self)
        self.image = ImagePredictions(self)
        self.document = DocumentPredictions(self)
        self.audio = AudioPredictions(self)
        self.video = VideoPredictions(self)
        self.files = Files(self)
        self.feedback = Feedback(self)

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
        attempts = 0
        while True:
            attempts += 1
            self.interruption.check()
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
                error = error_from_transport(call, exc)
                reason = type(exc).__name__
            else:
                try:
                    return interpret(call, response, key_owner=self.settings.key_owner)
                except VlmError as exc:
                    error = exc
                reason = f"HTTP {response.status_code}"
            delay = self.retry_policy.delay(error, attempts)
            if delay is None:
                raise error
            log.warning(
                "%s: %s, retry %d of %d in %.1fs",
                call.label,
                reason,
                attempts,
                self.retry_policy.max_attempts - 1,
                delay,
            )
            self.interruption.sleep(delay)

    def _run(self, operation: Operation[T]) -> T:
        result: Any = None
        try:
            while True:
                step = operation.send(result)
                if isinstance(step, Call):
                    result = self._send(step)
                elif isinstance(step, Sleep):
                    self.interruption.sleep(step.seconds)
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

    # --- the SDK's other top-level calls ------------------------------------------------------

    def get_schema(
        self, domain: str, config: GenerationConfig | Mapping[str, Any] | None = None
    ) -> SchemaInfo:
        return self._run(_ops.get_schema(domain, config))

    def list_domains(self) -> list[DomainInfo]:
        return self._run(_ops.list_domains())
