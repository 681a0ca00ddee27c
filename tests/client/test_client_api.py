"""Every documented client call against the real dev server over loopback."""

from __future__ import annotations

import io
import uuid

import pytest

from airflow_provider_vlm.client import (
    FileInfo,
    Prediction,
    PredictionStatus,
    PredictionTimeoutError,
    SchemaInfo,
    VlmClient,
)
from tests.client.conftest import route_count


def test_healthcheck(client: VlmClient) -> None:
    assert client.healthcheck() is True


def test_upload_reuses_stored_content(client: VlmClient, dev, invoice_pdf) -> None:
    dev.reset(state=True)
    first = client.files.upload(invoice_pdf)
    second = client.files.upload(invoice_pdf.read_bytes(), filename="again.pdf")
    assert isinstance(first, FileInfo)
    assert first.id == second.id
    assert first.bytes == invoice_pdf.stat().st_size
    stats = dev.stats()
    assert route_count(stats, "POST /files") == 1
    assert route_count(stats, "GET /files/hash/{md5}") == 2
    assert client.files.get(first.id).id == first.id
    assert first.id in [f.id for f in client.files.list(limit=50)]


def test_document_generate_and_wait(client: VlmClient, invoice_pdf) -> None:
    submitted = client.document.generate(file=invoice_pdf, domain="document.invoice", batch=True)
    assert submitted.status in (PredictionStatus.ENQUEUED, PredictionStatus.PENDING, PredictionStatus.RUNNING)
    assert submitted.type == "document"
    done = client.predictions.wait(submitted.id, timeout=30, sleep=0.2)
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
    info = client.files.upload(invoice_pdf)
    done = client.document.generate(file=info.id, domain="document.invoice")
    assert done.status is PredictionStatus.COMPLETED
    assert done.response["invoice_id"] == "471102"


def test_generate_by_url_is_accepted(client: VlmClient) -> None:
    prediction = client.document.generate(
        url="https://example.com/a.pdf", domain="document.markdown", batch=True
    )
    assert prediction.id
    assert client.predictions.get(prediction.id).id == prediction.id


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
        prediction = client.image.generate("image.caption", images=images)
        assert prediction.status is PredictionStatus.COMPLETED
        assert prediction.type == "image"


def test_list_newest_first_and_iterate_all(client: VlmClient, dev) -> None:
    dev.reset(state=True)
    ids = [
        client.document.generate(
            url=f"https://example.com/{i}.pdf", domain="document.markdown", batch=True
        ).id
        for i in range(7)
    ]
    page = client.predictions.list(skip=0, limit=3)
    assert [p.id for p in page] == ids[::-1][:3]
    assert [p.id for p in client.predictions.list(skip=3, limit=3)] == ids[::-1][3:6]
    assert [p.id for p in client.predictions.iter(page_size=3)] == ids[::-1]


def test_wait_times_out_with_a_timeout_error(client: VlmClient, dev) -> None:
    dev.faults(processing_time=30)
    prediction = client.document.generate(
        url="https://example.com/slow.pdf", domain="document.markdown", batch=True
    )
    with pytest.raises(TimeoutError) as info:
        client.predictions.wait(prediction.id, timeout=0.3, sleep=0.1)
    assert isinstance(info.value, PredictionTimeoutError)
    assert prediction.id in str(info.value)


def test_wait_returns_failed_at_once(client: VlmClient, dev) -> None:
    """The SDK polls a failed prediction until its timeout; we return it on the first poll that sees it."""
    failed = client.document.generate(file=b"not a pdf at all", domain="document.invoice")
    assert failed.status is PredictionStatus.FAILED
    before = route_count(dev.stats(), "GET /predictions/{id}")
    returned = client.predictions.wait(failed.id, timeout=600, sleep=5)
    assert route_count(dev.stats(), "GET /predictions/{id}") == before + 1
    assert returned.status is PredictionStatus.FAILED and returned.status == "failed"
    assert returned.error_message == failed.error_message != "the server gave no reason"


def test_schema_domains_and_schema_from_input(client: VlmClient, invoice_pdf) -> None:
    schema = client.get_schema("document.invoice")
    assert isinstance(schema, SchemaInfo)
    assert schema.domain == "document.invoice"
    assert "invoice_id" in schema.json_schema["properties"]
    assert "document.invoice" in {d.domain for d in client.list_domains()}
    proposed = client.document.schema(file=invoice_pdf)
    assert isinstance(proposed, Prediction)
    assert client.predictions.wait(proposed.id, timeout=30, sleep=0.2).status is PredictionStatus.COMPLETED


def test_idempotency_key_returns_the_same_prediction(client: VlmClient, dev) -> None:
    key = f"client-api-{uuid.uuid4()}"
    args = {"domain": "document.markdown", "url": "https://example.com/i.pdf", "idempotency_key": key}
    first = client.document.generate(batch=True, **args)
    second = client.document.generate(batch=True, **args)
    assert first.id == second.id
    assert dev.stats()["submissions"][key] == 1


def test_find_reads_list_pages(client: VlmClient, dev) -> None:
    dev.reset(state=True)
    ids = [
        client.document.generate(url=f"https://example.com/f{i}", domain="document.markdown", batch=True).id
        for i in range(25)
    ]
    dev.reset()
    found = client.predictions.find(ids[:20], page_size=10)
    assert set(found) == set(ids[:20])
    assert all(found[i].id == i for i in found)
    # 25 predictions, newest first: the 20 oldest span all three pages of 10.
    assert route_count(dev.stats(), "GET /predictions") == 3
    assert route_count(dev.stats(), "GET /predictions/{id}") == 0
