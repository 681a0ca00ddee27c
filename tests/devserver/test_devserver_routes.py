"""Every route of the wire contract, over loopback, against the real server process."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import httpx
from devserver_helpers import make_pdf, make_png, upload

PDF = make_pdf(["Hello dev server", "Second page"])


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert set(body) == {"message", "type", "id"}
    assert body["message"]
    return body


def test_health_needs_the_key(dev: Any, api: httpx.Client) -> None:
    assert api.get("/health").status_code == 200
    bare = httpx.get(dev.base_url + "/health")
    assert _error(bare, 401)["type"] == "authentication_error"
    wrong = httpx.get(dev.base_url + "/health", headers={"Authorization": "Bearer nope"})
    _error(wrong, 401)
    for path in ("/predictions", "/files", "/domains"):
        _error(httpx.get(dev.base_url + path), 401)


def test_upload_dedupe_and_file_routes(api: httpx.Client) -> None:
    content = make_pdf([f"unique {time.time_ns()}"])
    md5 = hashlib.md5(content).hexdigest()
    _error(api.get(f"/files/hash/{md5}"), 404)
    created = upload(api, content, "unique.pdf")
    assert created["bytes"] == len(content)
    assert created["filename"] == "unique.pdf"
    assert created["purpose"] == "assistants"
    assert created["object"] == "file"
    assert set(created) >= {"id", "created_at", "public_url"}
    assert api.get(f"/files/hash/{md5}").json()["id"] == created["id"]
    assert api.get(f"/files/{created['id']}").json() == created
    _error(api.get("/files/not-a-file"), 404)
    newest = api.get("/files", params={"skip": 0, "limit": 1}).json()
    assert [f["id"] for f in newest] == [created["id"]]


def test_skip_and_limit_out_of_range_are_422(api: httpx.Client) -> None:
    for path in ("/files", "/predictions"):
        assert api.get(path, params={"skip": -1}).status_code == 422
        assert api.get(path, params={"limit": 0}).status_code == 422
        assert api.get(path, params={"limit": 1001}).status_code == 422
        assert api.get(path, params={"limit": "many"}).status_code == 422


def test_batch_prediction_walks_the_states(api: httpx.Client) -> None:
    file_id = upload(api, PDF)["id"]
    first = api.post(
        "/document/generate", json={"file_id": file_id, "domain": "document.markdown", "batch": True}
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["status"] == "enqueued"
    assert body["type"] == "document"
    assert body["domain"] == "document.markdown"
    assert body["response"] is None and body["completed_at"] is None
    seen = [body["status"]]
    deadline = time.monotonic() + 5
    while seen[-1] not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
        status = api.get(f"/predictions/{body['id']}").json()["status"]
        if status != seen[-1]:
            seen.append(status)
    assert seen == ["enqueued", "pending", "running", "completed"]
    done = api.get(f"/predictions/{body['id']}").json()
    assert done["completed_at"] is not None
    # document.markdown: four credits per page at detail auto, standard tier (the rate card).
    assert done["usage"] == {"elements_processed": 2, "element_type": "page", "credits_used": 8}
    pages = done["response"]["pages"]
    assert [p["page_number"] for p in pages] == [0, 1]
    assert "Hello dev server" in pages[0]["content"]
    assert done["response"]["_devserver"]["engine"] == "markdown"


def test_blocking_prediction_answers_when_done(api: httpx.Client) -> None:
    file_id = upload(api, PDF)["id"]
    started = time.monotonic()
    body = api.post("/document/generate", json={"file_id": file_id, "domain": "document.markdown"}).json()
    assert time.monotonic() - started >= 0.9
    assert body["status"] == "completed"
    assert body["response"]["pages"][1]["content"].startswith("Second page")


def test_list_predictions_newest_first_and_pages(api: httpx.Client) -> None:
    file_id = upload(api, PDF)["id"]
    ids = [
        api.post(
            "/document/generate", json={"file_id": file_id, "domain": "document.receipt", "batch": True}
        ).json()["id"]
        for _ in range(3)
    ]
    listed = api.get("/predictions", params={"skip": 0, "limit": 3}).json()
    assert [p["id"] for p in listed] == ids[::-1]
    second = api.get("/predictions", params={"skip": 1, "limit": 1}).json()
    assert [p["id"] for p in second] == [ids[1]]
    assert api.get("/predictions", params={"skip": 10**6, "limit": 5}).json() == []


def test_unknown_prediction_is_404(api: httpx.Client) -> None:
    assert _error(api.get("/predictions/nope"), 404)["type"] == "not_found_error"


def test_generate_bad_input(dev: Any, api: httpx.Client) -> None:
    file_id = upload(api, PDF)["id"]
    malformed = api.post(
        "/document/generate", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 422
    assert "detail" in malformed.json()
    assert api.post("/document/generate", json={"file_id": file_id}).status_code == 422  # no domain
    _error(api.post("/document/generate", json={"file_id": "missing", "domain": "document.invoice"}), 404)
    both = {"file_id": file_id, "url": "https://example.com/a.pdf", "domain": "document.invoice"}
    assert "not both" in _error(api.post("/document/generate", json=both), 400)["message"]
    _error(api.post("/document/generate", json={"domain": "document.invoice"}), 400)
    _error(api.post("/document/generate", json={"url": "ftp://x/y.pdf", "domain": "document.invoice"}), 400)
    _error(api.post("/document/generate", json={"file_id": file_id, "domain": "Not A Domain"}), 400)
    assert "unknown media" in _error(api.post("/pdf/generate", json={"domain": "a.b"}), 404)["message"]
    _error(api.post("/image/generate", json={"images": [], "domain": "image.caption"}), 400)
    _error(api.post("/image/generate", json={"images": ["not-an-image"], "domain": "image.caption"}), 400)
    _error(
        api.post(
            "/image/generate", json={"images": ["data:image/png;base64,@@@"], "domain": "image.caption"}
        ),
        400,
    )
    _error(api.get("/no/such/route"), 404)
    # Nothing was created by any of these.
    assert dev.stats()["predictions_created"] == 0


def test_engine_errors_become_failed_predictions(api: httpx.Client) -> None:
    not_pdf = upload(api, b"just text, not a pdf", "notes.txt")["id"]
    corrupt = upload(api, b"%PDF-1.4\n" + b"\x00garbage" * 50, "broken.pdf")["id"]
    for file_id in (not_pdf, corrupt):
        for domain in ("document.invoice", "document.markdown"):
            body = api.post("/document/generate", json={"file_id": file_id, "domain": domain}).json()
            assert body["status"] == "failed", body
            assert body["message"]
            assert body["response"] is None


def test_image_generate_with_data_url(api: httpx.Client) -> None:
    data_url = "data:image/png;base64," + base64.b64encode(make_png()).decode()
    body = api.post(
        "/image/generate", json={"images": [data_url, data_url], "domain": "image.caption", "batch": False}
    ).json()
    assert body["status"] == "completed"
    assert body["type"] == "image"
    assert body["usage"] == {"elements_processed": 2, "element_type": "image", "credits_used": 4}
    assert body["response"]["caption"] is None
    assert body["response"]["_devserver"]["engine"] == "generic"


def test_audio_video_and_urls(api: httpx.Client) -> None:
    file_id = upload(api, b"RIFF....WAVEfmt ", "a.wav")["id"]
    audio = api.post("/audio/generate", json={"file_id": file_id, "domain": "audio.transcription"}).json()
    assert audio["status"] == "completed"
    assert audio["usage"]["element_type"] == "audio"
    assert set(audio["response"]) >= {"transcript", "segments"}
    video = api.post(
        "/video/generate", json={"url": "https://example.com/v.mp4", "domain": "video.transcription"}
    )
    body = video.json()
    assert body["status"] == "completed"
    assert body["type"] == "video"
    assert "not fetched" in body["response"]["_devserver"]["note"]
    remote = api.post(
        "/document/generate", json={"url": "https://example.com/d.pdf", "domain": "document.receipt"}
    ).json()
    assert "not fetched" in remote["response"]["_devserver"]["note"]
    assert remote["response"]["merchant_name"] is None  # nothing extracted: null where allowed


def test_custom_json_schema_shapes_the_result(api: httpx.Client) -> None:
    file_id = upload(api, PDF)["id"]
    schema = {
        "type": "object",
        "properties": {"title": {"type": ["string", "null"]}, "tags": {"type": "array"}},
    }
    body = api.post(
        "/document/generate",
        json={"file_id": file_id, "domain": "document.receipt", "config": {"json_schema": schema}},
    ).json()
    assert body["response"]["title"] is None
    assert body["response"]["tags"] == []


def test_domains_and_schemas(api: httpx.Client) -> None:
    listed = {d["domain"] for d in api.get("/domains").json()}
    assert {"document.invoice", "document.markdown"} <= listed
    for domain in ("document.invoice", "document.markdown"):
        body = api.post("/schema", json={"domain": domain, "config": {}}).json()
        assert body["domain"] == domain
        assert body["json_schema"]["type"] == "object"
        assert body["schema_version"] and body["schema_hash"] and body["gql_stmt"].startswith("{")
    invoice = api.post("/schema", json={"domain": "document.invoice"}).json()
    assert "invoice_id" in invoice["json_schema"]["properties"]
    assert "items { description" in invoice["gql_stmt"]
    _error(api.post("/schema", json={"domain": "acme.unknown"}), 404)
    custom = api.post(
        "/schema", json={"domain": "acme.custom", "config": {"json_schema": {"type": "object"}}}
    )
    assert custom.json()["json_schema"] == {"type": "object"}


def test_schema_from_input(api: httpx.Client) -> None:
    plain = upload(api, make_pdf(["Meeting notes"]))["id"]
    invoice = upload(api, make_pdf(["INVOICE", "Invoice number: A-1"]))["id"]
    for file_id, domain in ((plain, "document.markdown"), (invoice, "document.invoice")):
        body = api.post("/document/schema", json={"file_id": file_id}).json()
        assert body["status"] == "completed"
        assert body["response"]["domain"] == domain
        assert body["response"]["json_schema"]["type"] == "object"
        assert api.get(f"/predictions/{body['id']}").json()["response"] == body["response"]
    data_url = "data:image/png;base64," + base64.b64encode(make_png()).decode()
    image = api.post("/image/schema", json={"images": [data_url]}).json()
    assert image["response"]["domain"] == "image.caption"
    _error(api.post("/document/schema", json={}), 400)


def test_upload_over_the_limit_is_413(start_devserver: Any) -> None:
    with start_devserver("--max-upload-bytes", "1000", "--api-key", "k") as server, server.client() as client:
        small = client.post("/files", files={"file": ("s.bin", b"x" * 1000)})
        assert small.status_code == 201
        big = client.post("/files", files={"file": ("b.bin", b"x" * 1001)})
        assert _error(big, 413)["type"] == "request_too_large"
        assert client.get("/files").json()[0]["id"] == small.json()["id"]
