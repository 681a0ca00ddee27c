"""The documented resources: one surface for both clients, and what it promises beyond the page."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from airflow_provider_vlm.client import (
    AsyncVlmClient,
    PredictionStatus,
    PredictionTimeoutError,
    VlmClient,
    VlmInputError,
    async_resources,
    resources,
)
from tests.client.conftest import route_count

RESOURCES = ("predictions", "image", "document", "audio", "video", "files")
TOP_LEVEL = ("healthcheck", "get_schema", "list_domains", "get_type", "for_media")


def _public_methods(obj: object) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(getattr(obj, name))
        for name in dir(obj)
        if not name.startswith("_") and callable(getattr(obj, name))
    }


def test_sync_and_async_surfaces_match_name_by_name() -> None:
    sync = VlmClient("k", "http://127.0.0.1:9/v1")
    aio = AsyncVlmClient("k", "http://127.0.0.1:9/v1")
    for name in RESOURCES:
        sync_methods, async_methods = (
            _public_methods(getattr(sync, name)),
            _public_methods(getattr(aio, name)),
        )
        assert sync_methods.keys() == async_methods.keys(), name
        for method, signature in sync_methods.items():
            other = async_methods[method]
            assert list(signature.parameters.values()) == list(other.parameters.values()), f"{name}.{method}"
            awaited = getattr(getattr(aio, name), method)
            assert inspect.iscoroutinefunction(awaited) or inspect.isasyncgenfunction(awaited), method
    for name in TOP_LEVEL:
        assert inspect.signature(getattr(sync, name)) == inspect.signature(getattr(aio, name)), name
    sync.close()


def test_resource_modules_define_the_same_classes() -> None:
    def classes(module: object) -> set[str]:
        return {n for n, v in vars(module).items() if inspect.isclass(v) and v.__module__ == module.__name__}  # type: ignore[attr-defined]

    assert classes(resources) == classes(async_resources)


def test_documented_names_and_defaults() -> None:
    """The SDK's parameter names, order and defaults, as the page uses them."""
    client = VlmClient("k", "http://127.0.0.1:9/v1")
    wait = inspect.signature(client.predictions.wait).parameters
    assert (wait["timeout"].default, wait["sleep"].default) == (60, 1)
    assert list(inspect.signature(client.predictions.list).parameters) == ["skip", "limit"]
    image = inspect.signature(client.image.generate).parameters
    assert list(image)[:9] == [
        "domain", "images", "urls", "model", "batch", "metadata", "config", "callback_url", "autocast",
    ]  # fmt: skip
    document = inspect.signature(client.document.generate).parameters
    assert list(document)[:9] == [
        "file", "url", "model", "domain", "batch", "config", "metadata", "callback_url", "autocast",
    ]  # fmt: skip
    assert document["batch"].default is False and image["batch"].default is False
    client.close()


def test_wait_returns_a_failed_prediction_at_once(client: VlmClient, dev) -> None:
    dev.faults(processing_time=0.1)
    failed = client.document.generate(file=b"not a pdf at all", domain="document.invoice", batch=True)
    waited = client.predictions.wait(failed.id, timeout=600, sleep=0.05)
    assert waited.status == "failed" and waited.status is PredictionStatus.FAILED
    assert waited.error_message != "the server gave no reason"


def test_wait_that_runs_out_raises_a_timeout_error(client: VlmClient, dev) -> None:
    dev.faults(processing_time=30)
    slow = client.document.generate(
        url="https://example.com/slow.pdf", domain="document.markdown", batch=True
    )
    with pytest.raises(TimeoutError) as caught:
        client.predictions.wait(slow.id, timeout=0.3, sleep=0.1)
    assert isinstance(caught.value, PredictionTimeoutError)
    assert caught.value.prediction_id == slow.id


def test_iter_and_find(client: VlmClient, dev) -> None:
    dev.reset(state=True)
    ids = [
        client.document.generate(
            url=f"https://example.com/{i}.pdf", domain="document.markdown", batch=True
        ).id
        for i in range(7)
    ]
    assert [p.id for p in client.predictions.list(skip=0, limit=3)] == ids[::-1][:3]
    assert [p.id for p in client.predictions.iter(page_size=3)] == ids[::-1]
    found = client.predictions.find(ids[-4:], page_size=5)
    assert set(found) == set(ids[-4:]) and found[ids[-1]].id == ids[-1]


def test_file_is_a_path_or_a_stored_file_id(client: VlmClient, dev, invoice_pdf: Path) -> None:
    stored = client.files.upload(invoice_pdf)
    assert client.files.get_cached_file(invoice_pdf) == stored
    assert client.files.get_cached_file(b"never uploaded") is None
    dev.reset()
    by_id = client.document.generate(file=stored.id, domain="document.invoice")
    by_keyword = client.document.generate(file_id=stored.id, domain="document.invoice")
    assert by_id.response == by_keyword.response
    assert by_id.response["invoice_id"] == "471102"
    stats = dev.stats()
    assert route_count(stats, "POST /files") == 0 and route_count(stats, "GET /files/hash/{md5}") == 0


def test_upload_reuses_stored_content_unless_forced(client: VlmClient, dev, invoice_pdf: Path) -> None:
    first = client.files.upload(invoice_pdf)
    assert client.files.upload(str(invoice_pdf)).id == first.id
    forced = client.files.upload(invoice_pdf, force=True)
    assert forced.id != first.id
    assert client.files.get(first.id).id == first.id
    assert first.id in {f.id for f in client.files.list(limit=100)}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.image.generate("document.invoice"), "exactly one of images or urls"),
        (lambda c: c.image.generate("document.invoice", images=["a.jpg"], urls=["https://x"]), "exactly one"),
        (lambda c: c.image.generate("document.invoice", urls=["ftp://x/a.jpg"]), r"an http\(s\) URL"),
        (lambda c: c.image.generate("document.invoice", urls="https://x/a.jpg"), "a list"),
        (lambda c: c.image.generate("document.invoice", images=[]), "images is empty"),
        (lambda c: c.document.generate(url="https://x/a.pdf"), "needs a domain"),
        (lambda c: c.document.generate(domain="document.invoice"), "exactly one of"),
        (lambda c: c.audio.generate(file="missing.mp3", domain="audio.transcription"), "file not found"),
    ],
)
def test_bad_arguments_are_value_errors(dev, call, message) -> None:
    with VlmClient(dev.api_key, dev.base_url) as client:
        dev.reset()
        with pytest.raises(ValueError, match=message) as caught:
            call(client)
        assert isinstance(caught.value, VlmInputError)
        assert route_count(dev.stats(), "POST /document/generate") == 0


def test_for_media_names_the_resource(client: VlmClient) -> None:
    assert client.for_media("image") is client.image and client.for_media("video") is client.video
    with pytest.raises(VlmInputError, match="unknown media"):
        client.for_media("hologram")


def test_healthcheck_and_domains(client: VlmClient) -> None:
    assert client.healthcheck() is True
    assert "document.invoice" in {d.domain for d in client.list_domains()}
    assert "invoice_id" in client.get_schema("document.invoice").json_schema["properties"]


async def test_async_resources(dev, invoice_pdf: Path) -> None:
    async with AsyncVlmClient(dev.api_key, dev.base_url) as client:
        assert await client.healthcheck()
        done = await client.document.generate(file=invoice_pdf, domain="document.invoice", autocast=True)
        assert done.response.invoice_id == "471102"
        submitted = await client.document.generate(file=invoice_pdf, domain="document.invoice", batch=True)
        waited = await client.predictions.wait(submitted.id, timeout=30, sleep=0.1)
        assert waited.status == "completed" and waited.type == "document"
        assert (await client.predictions.get(submitted.id)).id == submitted.id
        assert [p.id async for p in client.predictions.iter(page_size=2)][0] == submitted.id
        assert submitted.id in await client.predictions.find([submitted.id])
        image = await client.image.generate("image.caption", urls=["https://example.com/a.jpg"])
        assert image.status == "completed" and image.type == "image"
        schema = await client.document.schema(file=invoice_pdf)
        assert "json_schema" in (await client.predictions.wait(schema.id, sleep=0.1)).response
        stored = await client.files.upload(invoice_pdf)
        assert (await client.files.get(stored.id)).id == stored.id
        assert (await client.files.get_cached_file(invoice_pdf)) == stored
        assert stored.id in {f.id for f in await client.files.list(limit=100)}
        assert "document.invoice" in {d.domain for d in await client.list_domains()}
        model = await client.get_type("document.invoice")
        assert model.model_validate(waited.response).total_amount == 529.87
