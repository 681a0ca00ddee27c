"""``AsyncVlmClient``: the asyncio client for triggers, the same operations as ``VlmClient``."""

from __future__ import annotations

import asyncio
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
from airflow_provider_vlm.client._retry import RetryPolicy
from airflow_provider_vlm.client._settings import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientSettings,
)
from airflow_provider_vlm.client.async_resources import (
    AudioPredictions,
    DocumentPredictions,
    Feedback,
    FilePredictions,
    Files,
    ImagePredictions,
    Predictions,
    VideoPredictions,
)
from airflow_provider_vlm.client.autocast import CastModel
from airflow_provider_vlm.client.errors import VlmError
from airflow_provider_vlm.client.models import (
    DomainInfo,
    GenerationConfig,
    SchemaInfo,
)

T = TypeVar("T")
log = logging.getLogger("airflow_provider_vlm.client")


class AsyncVlmClient:
    """Asyncio client; ``max_connections`` bounds concurrent requests (e.g. a trigger's status polls)."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        verify: bool = True,
        max_connections: int = 20,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
        key_owner: str | None = None,
    ) -> None:
        self.settings = ClientSettings(api_key, base_url, timeout, max_retries, verify, key_owner)
        self.retry_policy = retry_policy or self.settings.retry_policy()
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = httpx.AsyncClient(transport=transport, limits=limits, **self.settings.httpx_options())  # type: ignore[arg-type]
        self._models: _ops.ModelCache = {}
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
        return f"AsyncVlmClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> AsyncVlmClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- driver ------------------------------------------------------------------------------

    async def _send(self, call: Call) -> Any:
        attempts = 0
        while True:
            attempts += 1
            try:
                response = await self._http.request(
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
            await asyncio.sleep(delay)

    async def _run(self, operation: Operation[T]) -> T:
        result: Any = None
        try:
            while True:
                step = operation.send(result)
                if isinstance(step, Call):
                    result = await self._send(step)
                elif isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                    result = None
                elif isinstance(step, ReadFile):
                    result = await asyncio.to_thread(read_local_file, step.path)
                elif isinstance(step, Clock):
                    result = time.monotonic()
                elif isinstance(step, Now):
                    result = time.time()
                elif isinstance(step, Parallel):
                    result = await self._run_parallel(step)
                else:  # pragma: no cover - a new step type without a driver branch is a bug
                    raise TypeError(f"unknown step {step!r}")
        except StopIteration as done:
            return done.value

    async def _run_parallel(self, step: Parallel) -> list[Any]:
        """Up to ``step.limit`` operations at once; each gives its value or its ``VlmError``."""
        semaphore = asyncio.Semaphore(max(1, step.limit))

        async def one(operation: Operation[Any]) -> Any:
            async with semaphore:
                try:
                    return await self._run(operation)
                except VlmError as exc:
                    return exc

        return list(await asyncio.gather(*(one(op) for op in step.operations)))

    # --- the documented top-level calls (the SDK's names) ----------------------------------

    async def healthcheck(self) -> bool:
        """True when the server is up and the key is valid (else a typed error)."""
        return await self._run(_ops.health())

    async def get_type(
        self, domain: str, config: GenerationConfig | Mapping[str, Any] | None = None
    ) -> type[CastModel]:
        """The domain's result as a pydantic model (what ``autocast=True`` casts to), cached per client."""
        return await self._run(_ops.response_model(domain, config, self._models))

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

    async def get_schema(
        self, domain: str, config: GenerationConfig | Mapping[str, Any] | None = None
    ) -> SchemaInfo:
        return await self._run(_ops.get_schema(domain, config))

    async def list_domains(self) -> list[DomainInfo]:
        return await self._run(_ops.list_domains())
