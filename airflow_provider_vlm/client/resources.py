"""The documented resources of ``VlmClient``: ``client.predictions``, ``client.image``, ``client.files`` ...

Names, parameters and defaults are the official SDK's (its predictions page is the
specification). Each method is one line: the operation is written once in ``_ops`` and run by
the client's driver. ``async_resources`` mirrors this module name by name, awaited.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from airflow_provider_vlm.client import _ops, _waits
from airflow_provider_vlm.client._inputs import looks_like_file_id
from airflow_provider_vlm.client.models import (
    FeedbackListResponse,
    FeedbackSubmitResponse,
    FileInfo,
    GenerationConfig,
    Prediction,
    RequestMetadata,
)

if TYPE_CHECKING:
    from airflow_provider_vlm.client.sync import VlmClient

Config = GenerationConfig | Mapping[str, Any] | None
Metadata = RequestMetadata | Mapping[str, Any] | None
#: A corrected response: the fields as a mapping, or the autocast model of a prediction.
Correction = Mapping[str, Any] | BaseModel | None
FileArg = str | Path | bytes | None


def file_fields(file: FileArg, file_id: str | None) -> dict[str, Any]:
    """``file=`` as the SDK reads it: a string without a suffix is a stored file's id."""
    if looks_like_file_id(file) and file_id is None:
        return {"file": None, "file_id": file}
    return {"file": file, "file_id": file_id}


class Predictions:
    """``client.predictions``: read, list and wait for predictions of every media."""

    def __init__(self, client: VlmClient) -> None:
        self._client = client

    def get(self, id: str) -> Prediction:
        return self._client._run(_ops.get_prediction(id))

    def list(self, skip: int = 0, limit: int = 10) -> list[Prediction]:
        """One page, newest first."""
        return self._client._run(_ops.list_predictions(skip, limit))

    def iter(self, page_size: int = 100) -> Iterator[Prediction]:
        """Every prediction, newest first, one page request at a time."""
        skip = 0
        while True:
            page = self.list(skip=skip, limit=page_size)
            yield from page
            if len(page) < page_size:
                return
            skip += page_size

    def find(self, ids: Collection[str], page_size: int = 1000) -> dict[str, Prediction]:
        """Many predictions from list pages (about ``len(ids) / page_size`` requests); missing ids are left out."""
        return self._client._run(_ops.find_predictions(ids, page_size))

    def wait(self, id: str, timeout: float = 60, sleep: float = 1) -> Prediction:
        """Back when ``completed`` or ``failed`` (a failed one at once); ``PredictionTimeoutError`` when time runs out."""
        return self._client._run(_waits.wait_settled(id, timeout, sleep))


class ImagePredictions(Predictions):
    """``client.image``: predictions from images (paths, PIL images, bytes) or image URLs."""

    def generate(
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
        return self._client._run(
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

    def schema(
        self,
        images: Sequence[_ops.ImageInput] | None = None,
        urls: Sequence[str] | None = None,
        *,
        model: str = "vlm-1",
        config: Config = None,
        idempotency_key: str | None = None,
    ) -> Prediction:
        """A schema proposed for sample images (a prediction whose response is the schema)."""
        return self._client._run(
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

    def generate(
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
        return self._client._run(
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

    def schema(
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
        return self._client._run(
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

    def __init__(self, client: VlmClient) -> None:
        self._client = client

    def list(self, skip: int = 0, limit: int = 10) -> list[FileInfo]:
        return self._client._run(_ops.list_files(skip, limit))

    def get(self, file_id: str) -> FileInfo:
        return self._client._run(_ops.get_file(file_id))

    def upload(
        self,
        file: str | Path | bytes,
        purpose: str = "assistants",
        *,
        filename: str | None = None,
        force: bool = False,
    ) -> FileInfo:
        """Upload unless the same bytes are stored already (``force=True`` uploads anyway)."""
        return self._client._run(
            _ops.upload_file(file, filename=filename, purpose=purpose, check_duplicate=not force)
        )

    def get_cached_file(self, file: str | Path | bytes) -> FileInfo | None:
        """The stored file with the same content (md5), or ``None``."""
        return self._client._run(_ops.cached_file(file))


class Feedback:
    """``client.feedback``: corrections and notes sent back for a prediction (the SDK's names).

    ``submit`` creates a record: it is sent again only when it provably did not arrive, and
    ``idempotency_key`` makes a repeat harmless on servers that honour ``Idempotency-Key``.
    """

    def __init__(self, client: VlmClient) -> None:
        self._client = client

    def submit(
        self,
        request_id: str,
        response: Correction = None,
        notes: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> FeedbackSubmitResponse:
        """Send the corrected ``response`` and/or ``notes`` for prediction ``request_id``."""
        return self._client._run(_ops.submit_feedback(request_id, response, notes, idempotency_key))

    def get(self, request_id: str, offset: int = 0, limit: int = 10) -> FeedbackListResponse:
        """The feedback kept for prediction ``request_id``, oldest first."""
        return self._client._run(_ops.get_feedback(request_id, offset, limit))
