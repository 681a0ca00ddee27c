"""Every API operation, written once as a generator of steps (see ``_core``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pydantic

from airflow_provider_vlm.client._core import Call, Operation, ReadFile, parse_list, parse_model
from airflow_provider_vlm.client._inputs import (
    as_path,
    check_domain,
    check_id,
    check_media,
    check_url,
    data_url,
    dump_options,
    is_http_url,
    pil_to_png,
)
from airflow_provider_vlm.client.autocast import (
    CastModel,
    cast_response,
    check_response,
    explicit_schema,
    model_from_schema,
)
from airflow_provider_vlm.client.errors import VlmInputError
from airflow_provider_vlm.client.models import (
    DomainInfo,
    FeedbackListResponse,
    FeedbackSubmitResponse,
    FileInfo,
    GenerationConfig,
    Prediction,
    PredictionStatus,
    RequestMetadata,
    SchemaInfo,
    response_json,
)

FileInput = str | Path | bytes
ImageInput = Any  # path, http(s) URL, data URL, bytes or a PIL image


def _q(value: str) -> str:
    return quote(value, safe="")


def _prediction(data: Any, call: Call, media: str | None = None) -> Prediction:
    prediction = parse_model(Prediction, data, call)
    if prediction.type is None and media is not None:
        prediction.type = media
    return prediction


def health() -> Operation[bool]:
    call = Call("GET", "/health", route="/health")
    yield call
    return True


def get_prediction(prediction_id: str) -> Operation[Prediction]:
    check_id(prediction_id, name="prediction_id")
    call = Call("GET", f"/predictions/{_q(prediction_id)}", route="/predictions/{id}")
    return _prediction((yield call), call)


def list_predictions(skip: int = 0, limit: int = 10) -> Operation[list[Prediction]]:
    if skip < 0 or limit < 1:
        raise VlmInputError(f"skip must be >= 0 and limit >= 1, got skip={skip}, limit={limit}")
    call = Call("GET", "/predictions", params={"skip": skip, "limit": limit}, route="/predictions")
    return parse_list(Prediction, (yield call), call)


def find_predictions(ids: Collection[str], page_size: int = 1000) -> Operation[dict[str, Prediction]]:
    """The given predictions as found in the newest pages of ``GET /predictions``.

    A batch submitted together sits near the top of the list, so N ids cost about N / page_size
    requests instead of N. Pages are bounded (other traffic pushes a batch down), so ids may be
    missing from the answer: callers fetch those one by one.
    """
    wanted = set(ids)
    found: dict[str, Prediction] = {}
    max_pages = 2 * -(-len(wanted) // page_size) + 1
    for page_number in range(max_pages):
        page = yield from list_predictions(skip=page_number * page_size, limit=page_size)
        found.update((p.id, p) for p in page if p.id in wanted)
        if len(found) >= len(wanted) or len(page) < page_size:
            break
    return found


def get_file(file_id: str) -> Operation[FileInfo]:
    check_id(file_id, name="file_id")
    call = Call("GET", f"/files/{_q(file_id)}", route="/files/{id}")
    return parse_model(FileInfo, (yield call), call)


def list_files(skip: int = 0, limit: int = 10) -> Operation[list[FileInfo]]:
    if skip < 0 or limit < 1:
        raise VlmInputError(f"skip must be >= 0 and limit >= 1, got skip={skip}, limit={limit}")
    call = Call("GET", "/files", params={"skip": skip, "limit": limit}, route="/files")
    return parse_list(FileInfo, (yield call), call)


def find_file(md5: str) -> Operation[FileInfo | None]:
    """The stored file with this content hash, or ``None``."""
    call = Call("GET", f"/files/hash/{_q(md5)}", allow_404=True, route="/files/hash/{md5}")
    data = yield call
    return None if data is None else parse_model(FileInfo, data, call)


def _file_bytes(file: FileInput, filename: str | None) -> Operation[tuple[bytes, str]]:
    if isinstance(file, bytes):
        if not file:
            raise VlmInputError("file content is empty")
        return file, filename or "upload.bin"
    path = as_path(file)
    if path is None:
        raise VlmInputError(f"file must be a path or bytes, got {type(file).__name__}")
    data = yield ReadFile(path)
    if not data:
        raise VlmInputError(f"file is empty: {path}")
    return data, filename or path.name


def upload_file(
    file: FileInput, *, filename: str | None = None, purpose: str = "assistants", check_duplicate: bool = True
) -> Operation[FileInfo]:
    """Upload, reusing stored content with the same md5 (no second upload of the same bytes)."""
    data, name = yield from _file_bytes(file, filename)
    if check_duplicate:
        found = yield from find_file(hashlib.md5(data, usedforsecurity=False).hexdigest())
        if found is not None:
            return found
    call = Call(
        "POST",
        "/files",
        params={"purpose": purpose},
        files={"file": (name, data, "application/octet-stream")},
        route="/files",
    )
    return parse_model(FileInfo, (yield call), call)


def _image_ref(image: ImageInput) -> Operation[str]:
    if isinstance(image, str) and (is_http_url(image) or image.startswith("data:")):
        return image
    if isinstance(image, bytes):
        return data_url(image)
    png = pil_to_png(image)
    if png is not None:
        return data_url(png, "image.png")
    path = as_path(image)
    if path is None:
        raise VlmInputError(
            f"images entries must be paths, URLs, bytes or PIL images; got {type(image).__name__}"
        )
    return data_url((yield ReadFile(path)), path.name)


def _input_fields(
    media: str,
    *,
    file: FileInput | None,
    file_id: str | None,
    url: str | None,
    images: Sequence[ImageInput] | None,
) -> Operation[dict[str, Any]]:
    given = [
        n
        for n, v in (("file", file), ("file_id", file_id), ("url", url), ("images", images))
        if v is not None
    ]
    if len(given) != 1:
        what = "none" if not given else " and ".join(given)
        raise VlmInputError(f"give exactly one of file, file_id, url or images; got {what}")
    if url is not None:
        check_url(url)
    if media == "image":
        if file_id is not None:
            raise VlmInputError("image predictions take images (paths, URLs, bytes), not file_id")
        refs = [file] if file is not None else [url] if url is not None else list(images or [])
        if not refs:
            raise VlmInputError("images is empty: give at least one image")
        encoded = []
        for ref in refs:
            encoded.append((yield from _image_ref(ref)))
        return {"images": encoded}
    if images is not None:
        raise VlmInputError(f"images is only for media='image'; for {media!r} give file, file_id or url")
    if url is not None:
        return {"url": url}
    if file_id is not None:
        return {"file_id": check_id(file_id, name="file_id")}
    assert file is not None
    info = yield from upload_file(file)
    return {"file_id": info.id}


def generate(
    media: str,
    *,
    domain: str,
    file: FileInput | None = None,
    file_id: str | None = None,
    url: str | None = None,
    images: Sequence[ImageInput] | None = None,
    model: str = "vlm-1",
    batch: bool = True,
    config: GenerationConfig | Mapping[str, Any] | None = None,
    metadata: RequestMetadata | Mapping[str, Any] | None = None,
    callback_url: str | None = None,
    idempotency_key: str | None = None,
) -> Operation[Prediction]:
    """Create a (billed) prediction. Ambiguous failures raise ``OutcomeUnknownError``."""
    check_media(media)
    check_domain(domain)
    body: dict[str, Any] = {"model": model, "domain": domain, "batch": batch}
    body.update((yield from _input_fields(media, file=file, file_id=file_id, url=url, images=images)))
    for key, value in (("config", config), ("metadata", metadata)):
        dumped = dump_options(value, name=key)
        if dumped:
            body[key] = dumped
    if callback_url is not None:
        body["callback_url"] = check_url(callback_url, name="callback_url")
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    call = Call(
        "POST", f"/{media}/generate", json=body, headers=headers, creates=True, route=f"/{media}/generate"
    )
    return _prediction((yield call), call, media)


def generate_schema(
    media: str,
    *,
    file: FileInput | None = None,
    file_id: str | None = None,
    url: str | None = None,
    images: Sequence[ImageInput] | None = None,
    model: str = "vlm-1",
    config: GenerationConfig | Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Operation[Prediction]:
    """Ask the server to propose a schema for a sample input (SDK: ``image.schema``/``document.schema``)."""
    if media not in ("image", "document"):
        raise VlmInputError(f"schema generation supports media 'image' or 'document', got {media!r}")
    body: dict[str, Any] = {"model": model}
    body.update((yield from _input_fields(media, file=file, file_id=file_id, url=url, images=images)))
    dumped = dump_options(config, name="config")
    if dumped:
        body["config"] = dumped
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    call = Call(
        "POST", f"/{media}/schema", json=body, headers=headers, creates=True, route=f"/{media}/schema"
    )
    return _prediction((yield call), call, media)


def get_schema(
    domain: str, config: GenerationConfig | Mapping[str, Any] | None = None
) -> Operation[SchemaInfo]:
    check_domain(domain)
    body: dict[str, Any] = {"domain": domain, "config": dump_options(config, name="config") or {}}
    call = Call("POST", "/schema", json=body, route="/schema")
    return parse_model(SchemaInfo, (yield call), call)


def list_domains() -> Operation[list[DomainInfo]]:
    call = Call("GET", "/domains", route="/domains")
    return parse_list(DomainInfo, (yield call), call)


def submit_feedback(
    request_id: str,
    response: Mapping[str, Any] | pydantic.BaseModel | None = None,
    notes: str | None = None,
    idempotency_key: str | None = None,
) -> Operation[FeedbackSubmitResponse]:
    """Send a correction and/or notes for a prediction (``POST /feedback/submit``).

    It creates a record, so it is sent again only when it provably did not arrive (as a
    generate call): an ambiguous failure raises ``OutcomeUnknownError`` rather than risk a
    second record. ``idempotency_key`` goes out as ``Idempotency-Key`` for servers that honour it.
    """
    check_id(request_id, name="request_id")
    if response is None and notes is None:
        raise VlmInputError("feedback needs response or notes (or both); got neither")
    if isinstance(response, pydantic.BaseModel):  # an autocast response, as the prediction gave it
        response = response_json(response)
    if response is not None and not isinstance(response, Mapping):
        raise VlmInputError(
            f"response must be a mapping (the corrected fields), got {type(response).__name__}"
        )
    body: dict[str, Any] = {"request_id": request_id}
    if response is not None:
        body["response"] = json.loads(json.dumps(dict(response), default=str))
    if notes is not None:
        body["notes"] = notes
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    call = Call(
        "POST", "/feedback/submit", json=body, headers=headers, creates=True, route="/feedback/submit"
    )
    return parse_model(FeedbackSubmitResponse, (yield call), call)


def get_feedback(request_id: str, offset: int = 0, limit: int = 10) -> Operation[FeedbackListResponse]:
    """The feedback kept for a prediction (``GET /feedback/{request_id}``), one page."""
    check_id(request_id, name="request_id")
    if offset < 0 or limit < 1:
        raise VlmInputError(f"offset must be >= 0 and limit >= 1, got offset={offset}, limit={limit}")
    call = Call(
        "GET",
        f"/feedback/{_q(request_id)}",
        params={"offset": offset, "limit": limit},
        route="/feedback/{request_id}",
    )
    return parse_model(FeedbackListResponse, (yield call), call)


# --- the documented surface's own operations (``client.<media>.generate(autocast=...)`` ...) --


#: Models built for autocast, per client: ``(domain, config JSON) -> model``.
ModelCache = dict[tuple[str, str], type[CastModel]]


def response_model(
    domain: str, config: GenerationConfig | Mapping[str, Any] | None, cache: ModelCache
) -> Operation[type[CastModel]]:
    """The domain's result as a pydantic model (``POST /schema`` once per domain and config)."""
    dumped = dump_options(config, name="config") or {}
    key = (domain, json.dumps(dumped, sort_keys=True, default=str))
    if key not in cache:
        json_schema = explicit_schema(dumped)
        if json_schema is None:
            json_schema = (yield from get_schema(domain, config)).json_schema
        cache[key] = model_from_schema(json_schema, domain.rsplit(".", 1)[-1])
    return cache[key]


def cast(
    prediction: Prediction,
    domain: str,
    config: GenerationConfig | Mapping[str, Any] | None,
    cache: ModelCache,
) -> Operation[Prediction]:
    """A completed prediction, checked against the domain's schema (``schema_check``), its response
    then replaced by the domain's model; what fails the check raises ``ResponseValidationError``."""
    if prediction.status is PredictionStatus.COMPLETED:
        model = yield from response_model(domain, config, cache)
        source = f"{domain} schema"
        if isinstance(prediction.response, dict):
            prediction.response = cast_response(
                model, prediction.response, prediction_id=prediction.id, source=source
            )
        else:
            check_response(model, prediction.response, prediction_id=prediction.id, source=source)
    return prediction


def generate_cast(
    media: str,
    *,
    domain: str | None,
    autocast: bool,
    cache: ModelCache,
    file: FileInput | None = None,
    file_id: str | None = None,
    url: str | None = None,
    images: Sequence[ImageInput] | None = None,
    model: str = "vlm-1",
    batch: bool = False,
    config: GenerationConfig | Mapping[str, Any] | None = None,
    metadata: RequestMetadata | Mapping[str, Any] | None = None,
    callback_url: str | None = None,
    idempotency_key: str | None = None,
) -> Operation[Prediction]:
    """``generate``, then (``autocast``) the response as the domain's model when it is completed."""
    if domain is None:
        raise VlmInputError(f"{media}.generate needs a domain, e.g. domain='document.invoice'")
    prediction = yield from generate(
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
    if autocast:
        prediction = yield from cast(prediction, domain, config, cache)
    return prediction


def image_list(images: Sequence[ImageInput] | None, urls: Sequence[str] | None) -> list[ImageInput]:
    """``images=`` or ``urls=`` of ``client.image``, as one list (checked before anything is read)."""
    if (images is None) == (urls is None):
        raise VlmInputError("give exactly one of images or urls")
    if urls is not None:
        if isinstance(urls, str):
            raise VlmInputError("urls must be a list of http(s) URLs, not one string")
        return [check_url(u, name="urls entry") for u in urls]
    if isinstance(images, (str, bytes, Path)):
        raise VlmInputError("images must be a list (of paths, PIL images, bytes or URLs)")
    return list(images or [])


def cached_file(file: FileInput) -> Operation[FileInfo | None]:
    """The stored file with the same content as ``file`` (md5), or ``None``."""
    data, _ = yield from _file_bytes(file, None)
    return (yield from find_file(hashlib.md5(data, usedforsecurity=False).hexdigest()))
