"""Every client method against the real dev server over loopback."""

from __future__ import annotations

import io
import uuid

import pytest

from airflow_provider_vlm.client import (
    FileInfo,
    Prediction,
    PredictionFailedError,
    PredictionStatus,
    PredictionTimeoutError,
    SchemaInfo,
    VlmClient,
)
from tests.client.conftest import route_count


def test_health(client: VlmClient) -> None:
    assert client.health() is True


def test_upload_reuses_stored_content(client: VlmClient, dev, invoice_pdf) -> None:
    dev.reset(state=True)
    first = client.upload_file(invoice_pdf)
    second = client.upload_file(invoice_pdf.read_bytes(), filename="again.pdf")
    assert isinstance(first, FileInfo)
    assert first.id == second.id
    assert first.bytes == invoice_pdf.stat().st_size
    stats = dev.stats()
    assert route_count(stats, "POST /files") == 1
    assert route_count(stats, "GET /files/hash/{md5}") == 2
    assert client.get_file(first.id).id == first.id
    assert first.id in [f.id for f in client.list_files(limit=50)]


def test_document_generate_and_wait(client: VlmClient, invoice_pdf) -> None:
    submitted = client.generate("document", domain="document.invoice", file=invoice_pdf)
    assert submitted.status in (PredictionStatus.ENQUEUED, PredictionStatus.PENDING, PredictionStatus.RUNNING)
    assert submitted.type == "document"
    done = client.wait(submitted.id, timeout=30, sleep=0.2, backoff=1.5, max_sleep=1)
    assert done.status is PredictionStatus.COMPLETED
    assert done.response["invoice_id"] == "471102"
    assert done.usage.element_type == "page"
    assert done.usage.credits_used and done.usage.credits_used > 0
    record = done.record()
    assert set(record) == {
        "id",
        "status",
        "type",
        "domain",
        "created_at",
        "completed_at",
        "response",
        "usage",
    }
    assert record["status"] == "completed" and record["domain"] == "document.invoice"


def test_generate_blocking_by_file_id(client: VlmClient, invoice_pdf) -> None:
    info = client.upload_file(invoice_pdf)
    done = client.generate("document", domain="document.invoice", file_id=info.id, batch=False)
    assert done.status is PredictionStatus.COMPLETED
    assert done.response["invoice_id"] == "471102"


def test_generate_by_url_is_accepted(client: VlmClient) -> None:
    prediction = client.generate("document", domain="document.markdown", url="https://example.com/a.pdf")
    assert prediction.id
    assert client.get_prediction(prediction.id).id == prediction.id


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_image_generate_paths_bytes_and_pil(client: VlmClient, tmp_path) -> None:
    from PIL import Image

    path = tmp_path / "red.png"
    path.write_bytes(_png())
    for images in ([path], [_png()], [Image.new("RGB", (4, 4))]):
        prediction = client.generate("image", domain="image.caption", images=images, batch=False)
        assert prediction.status is PredictionStatus.COMPLETED
        assert prediction.type == "image"


def test_list_newest_first_and_iterate_all(client: VlmClient, dev) -> None:
    dev.reset(state=True)
    ids = [
        client.generate("document", domain="document.markdown", url=f"https://example.com/{i}.pdf").id
        for i in range(7)
    ]
    page = client.list_predictions(skip=0, limit=3)
    assert [p.id for p in page] == ids[::-1][:3]
    assert [p.id for p in client.list_predictions(skip=3, limit=3)] == ids[::-1][3:6]
    assert [p.id for p in client.iter_predictions(page_size=3)] == ids[::-1]


def test_wait_times_out_with_a_timeout_error(client: VlmClient, dev) -> None:
    dev.faults(processing_time=30)
    prediction = client.generate("document", domain="document.markdown", url="https://example.com/slow.pdf")
    with pytest.raises(TimeoutError) as info:
        client.wait(prediction.id, timeout=0.3, sleep=0.1)
    assert isinstance(info.value, PredictionTimeoutError)
    assert prediction.id in str(info.value)


def test_wait_stops_at_once_on_failed(client: VlmClient, dev) -> None:
    """The SDK polls a failed prediction until its timeout; we stop on the first poll that sees it."""
    failed = client.generate("document", domain="document.invoice", file=b"not a pdf at all", batch=False)
    assert failed.status is PredictionStatus.FAILED
    before = route_count(dev.stats(), "GET /predictions/{id}")
    with pytest.raises(PredictionFailedError) as info:
        client.wait(failed.id, timeout=600, sleep=5)
    assert route_count(dev.stats(), "GET /predictions/{id}") == before + 1
    assert info.value.prediction_id == failed.id
    assert failed.error_message and failed.error_message in str(info.value)
    returned = client.wait(failed.id, timeout=600, raise_on_failure=False)
    assert returned.status is PredictionStatus.FAILED


def test_schema_domains_and_schema_from_input(client: VlmClient, invoice_pdf) -> None:
    schema = client.get_schema("document.invoice")
    assert isinstance(schema, SchemaInfo)
    assert schema.domain == "document.invoice"
    assert "invoice_id" in schema.json_schema["properties"]
    assert "document.invoice" in {d.domain for d in client.list_domains()}
    proposed = client.generate_schema("document", file=invoice_pdf)
    assert isinstance(proposed, Prediction)
    assert client.wait(proposed.id, timeout=30, sleep=0.2).status is PredictionStatus.COMPLETED


def test_idempotency_key_returns_the_same_prediction(client: VlmClient, dev) -> None:
    key = f"client-api-{uuid.uuid4()}"
    args = {"domain": "document.markdown", "url": "https://example.com/i.pdf", "idempotency_key": key}
    first = client.generate("document", **args)
    second = client.generate("document", **args)
    assert first.id == second.id
    assert dev.stats()["submissions"][key] == 1


def test_find_predictions_reads_list_pages(client: VlmClient, dev) -> None:
    dev.reset(state=True)
    ids = [
        client.generate("document", domain="document.markdown", url=f"https://example.com/f{i}").id
        for i in range(25)
    ]
    dev.reset()
    found = client.find_predictions(ids[:20], page_size=10)
    assert set(found) == set(ids[:20])
    assert all(found[i].id == i for i in found)
    # 25 predictions, newest first: the 20 oldest span all three pages of 10.
    assert route_count(dev.stats(), "GET /predictions") == 3
    assert route_count(dev.stats(), "GET /predictions/{id}") == 0
