"""The resources of ``AsyncVlmClient``: ``resources`` name by name, awaited.

A test compares the two modules' classes, methods and signatures, so they cannot drift.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from airflow_provider_vlm.client import _ops, _waits
from airflow_provider_vlm.client.models import (
    FeedbackListResponse,
    FeedbackSubmitResponse,
    FileInfo,
    Prediction,
)
from airflow_provider_vlm.client.resources import Config, Correction, FileArg, Metadata, file_fields

if TYPE_CHECKING:
    from airflow_provider_vlm.client.async_ import AsyncVlmClient


class Predictions:
    """``client.predictions``: read, list and wait for predictions of every media."""

    def __init__(self, client: AsyncVlmClient) -> None:
        self._client = client

    async def get(self, id: str) -> Prediction:
        return await self._client._run(_ops.get_prediction(id))

    async def list(self, skip: int = 0, limit: int = 10) -> list[Prediction]:
        """One page, newest first."""
        return await self._client._run(_ops.list_predictions(skip, limit))

    async def iter(self, page_size: int = 100) -> AsyncIterator[Prediction]:
        """Every prediction, newest first, one page request at a time."""
        skip = 0
        while True:
            page = await self.list(skip=skip, limit=page_size)
            for prediction in page:
                yield prediction
            if len(page) < page_size:
                return
            skip += page_size

    async def find(self, ids: Collection[str], page_size: int = 1000) -> dict[str, Prediction]:
        """Many predictions from list pages (about ``len(ids) / page_size`` requests); missing ids are left out."""
        return await self._client._run(_ops.find_predictions(ids, page_size))

    async def wait(self, id: str, timeout: float = 60, sleep: float = 1) -> Prediction:
        """Back when ``completed`` or ``failed`` (a failed one at once); ``PredictionTimeoutError`` when time runs out."""
        return await self._client._run(_waits.wait_settled(id, timeout, sleep))


class ImagePredictions(Predictions):
    """``client.image``: predictions from images (paths, PIL images, bytes) or image URLs."""

    async def generate(
        self,
        domain: str,
        images: Sequence[_ops.ImageInput] | None = None,
        urls: Sequence[str] | None = None,
        model: str = "vlm-1",
        batch: bool = False,
        metadata: Metadata = None,
        config: Config = None,
        callback_url: str | None = None,
        autocast: bool = False,
        *,
        idempotency_key: str | None = None,
    ) -> Prediction:
        """A prediction from images; ``autocast`` casts a completed response to the domain's model."""
        return await self._client._run(
            _ops.generate_cast(
                "image",
                domain=domain,
                autocast=autocast,
                cache=self._client._models,
                images=_ops.image_list(images, urls),
                model=model,
                batch=batch,
                config=config,
                metadata=metadata,
                callback_url=callback_url,
                idempotency_key=idempotency_key,
            )
        )

    async def schema(
        self,
        images: Sequence[_ops.ImageInput] | None = None,
        urls: Sequence[str] | None = None,
        *,
        model: str = "vlm-1",
        config: Config = None,
        idempotency_key: str | None = None,
    ) -> Prediction:
        """A schema proposed for sample images (a prediction whose response is the schema)."""
        return await self._client._run(
            _ops.generate_schema(
                "image",
                images=_ops.image_list(images, urls),
                model=model,
                config=config,
                idempotency_key=idempotency_key,
            )
        )


class FilePredictions(Predictions):
    """Predictions from one file (a path, bytes or a stored file's id) or one URL."""

    media: ClassVar[str]

    async def generate(
        self,
        file: FileArg = None,
        url: str | None = None,
        model: str = "vlm-1",
        domain: str | None = None,
        batch: bool = False,
        config: Config = None,
        metadata: Metadata = None,
        callback_url: str | None = None,
        autocast: bool = False,
        *,
        file_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Prediction:
        """A prediction from one file or URL (a local file is uploaded once, by md5); see ``ImagePredictions``."""
        return await self._client._run(
            _ops.generate_cast(
                self.media,
                domain=domain,
                autocast=autocast,
                cache=self._client._models,
                url=url,
                model=model,
                batch=batch,
                config=config,
                metadata=metadata,
                callback_url=callback_url,
                idempotency_key=idempotency_key,
                **file_fields(file, file_id),
            )
        )


class DocumentPredictions(FilePredictions):
    """``client.document``: PDFs and other documents."""

    media = "document"

    async def schema(
        self,
        file: FileArg = None,
        url: str | None = None,
        *,
        file_id: str | None = None,
        model: str = "vlm-1",
        config: Config = None,
        idempotency_key: str | None = None,
    ) -> Prediction:
        """A schema proposed for a sample document (a prediction whose response is the schema)."""
        return await self._client._run(
            _ops.generate_schema(
                "document",
                url=url,
                model=model,
                config=config,
                idempotency_key=idempotency_key,
                **file_fields(file, file_id),
            )
        )


class AudioPredictions(FilePredictions):
    """``client.audio``."""

    media = "audio"


class VideoPredictions(FilePredictions):
    """``client.video``."""

    media = "video"


class Files:
    """``client.files``: stored inputs; ``upload`` reuses content already stored (md5)."""

    def __init__(self, client: AsyncVlmClient) -> None:
        self._client = client

    async def list(self, skip: int = 0, limit: int = 10) -> list[FileInfo]:
        return await self._client._run(_ops.list_files(skip, limit))

    async def get(self, file_id: str) -> FileInfo:
        return await self._client._run(_ops.get_file(file_id))

    async def upload(
        self,
        file: str | Path | bytes,
        purpose: str = "assistants",
        *,
        filename: str | None = None,
        force: bool = False,
    ) -> FileInfo:
        """Upload unless the same bytes are stored already (``force=True`` uploads anyway)."""
        return await self._client._run(
            _ops.upload_file(file, filename=filename, purpose=purpose, check_duplicate=not force)
        )

    async def get_cached_file(self, file: str | Path | bytes) -> FileInfo | None:
        """The stored file with the same content (md5), or ``None``."""
        return await self._client._run(_ops.cached_file(file))


class Feedback:
    """``client.feedback``: corrections and notes sent back for a prediction (the SDK's names).

    ``submit`` creates a record: it is sent again only when it provably did not arrive, and
    ``idempotency_key`` makes a repeat harmless on servers that honour ``Idempotency-Key``.
    """

    def __init__(self, client: AsyncVlmClient) -> None:
        self._client = client

    async def submit(
        self,
        request_id: str,
        response: Correction = None,
        notes: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> FeedbackSubmitResponse:
        """Send the corrected ``response`` and/or ``notes`` for prediction ``request_id``."""
        return await self._client._run(_ops.submit_feedback(request_id, response, notes, idempotency_key))

    async def get(self, request_id: str, offset: int = 0, limit: int = 10) -> FeedbackListResponse:
        """The feedback kept for prediction ``request_id``, oldest first."""
        return await self._client._run(_ops.get_feedback(request_id, offset, limit))
