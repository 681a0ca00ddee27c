"""The platform's part the dev server plays for the invoice night: tiers, recorded metadata,
feedback, confidence and boxes, schema hash, admin routes off loopback."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_vlm.devserver.admin import admin_keys, is_loopback, start_notice
from tests.devserver.devserver_helpers import make_pdf, upload
from tests.invoices import PRIMARY_ID, PRIMARY_TOTAL, REAL_INVOICES, InvoiceSet, needs_real_invoices


def _generate(api: httpx.Client, file_id: str, **fields: Any) -> dict[str, Any]:
    body = {"domain": "document.invoice", "file_id": file_id, "batch": False, **fields}
    response = api.post("/document/generate", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _dev_view(dev: Any, prediction_id: str) -> dict[str, Any]:
    response = httpx.get(f"{dev.base_url}/_dev/predictions/{prediction_id}", timeout=10)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
def primary_id(api: httpx.Client, invoice_set: InvoiceSet) -> str:
    return str(upload(api, invoice_set.primary.path.read_bytes(), "einvoice.pdf")["id"])


# --- service_tier ---------------------------------------------------------------------------


def test_flex_is_billed_half_and_priority_at_1_8x(api: httpx.Client, dev: Any) -> None:
    file_id = upload(api, make_pdf(["page one", "page two", "page three", "page four", "page five"]))["id"]
    credits = {
        tier: _generate(api, file_id, domain="document.markdown", config={"service_tier": tier})["usage"][
            "credits_used"
        ]
        for tier in ("standard", "flex", "priority", "auto", "default")
    }
    # document.markdown bills 4 credits per page at detail auto (the rate card, ``client.pricing``).
    assert credits == {"standard": 20, "flex": 10, "priority": 36, "auto": 20, "default": 20}
    tiers = dev.stats()["tiers"]
    assert tiers["flex"] == {"predictions": 1, "credits": 10}
    assert tiers["standard"] == {"predictions": 3, "credits": 60}
    assert dev.stats()["credits_used"] == 20 + 10 + 36 + 20 + 20


def test_priority_rounds_up_to_whole_credits(api: httpx.Client, primary_id: str) -> None:
    # One page: 2 x 1.8 = 3.6 credits, billed as 4 (the SDK reads whole credits).
    assert _generate(api, primary_id, config={"service_tier": "priority"})["usage"]["credits_used"] == 4
    assert _generate(api, primary_id, config={"service_tier": "flex"})["usage"]["credits_used"] == 1


def test_flex_takes_twice_the_processing_time_and_priority_half(
    api: httpx.Client, dev: Any, primary_id: str
) -> None:
    dev.faults(processing_time=30)  # long beside the engine's time, so the spans are the tiers' alone
    spans = {}
    for tier in ("standard", "flex", "priority"):
        body = _generate(api, primary_id, batch=True, config={"service_tier": tier})
        view = _dev_view(dev, body["id"])
        created = datetime.fromisoformat(view["created_at"])
        spans[tier] = (datetime.fromisoformat(view["completes_at"]) - created).total_seconds()
    assert spans == pytest.approx({"standard": 30, "flex": 60, "priority": 15}, abs=0.01)
    httpx.post(f"{dev.base_url}/_dev/finish", timeout=10).raise_for_status()  # leave nothing running


def test_unknown_tier_is_refused_and_nothing_is_billed(api: httpx.Client, dev: Any, primary_id: str) -> None:
    response = api.post(
        "/document/generate",
        json={"domain": "document.invoice", "file_id": primary_id, "config": {"service_tier": "cheap"}},
    )
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "unknown service_tier 'cheap'" in message and "'flex'" in message
    assert dev.stats()["predictions_created"] == 0


# --- request metadata -----------------------------------------------------------------------


def test_request_metadata_and_tier_are_recorded(api: httpx.Client, dev: Any, primary_id: str) -> None:
    metadata = {"environment": "prod", "session_id": "night-2026-11-20", "allow_training": False}
    sent = _generate(api, primary_id, metadata=metadata, config={"service_tier": "flex", "confidence": True})
    view = _dev_view(dev, sent["id"])
    assert view["request"] == {
        "service_tier": "flex",
        "service_tier_requested": "flex",
        "metadata": metadata,
        "confidence": True,
        "grounding": False,
    }
    assert view["id"] == sent["id"] and view["usage"]["credits_used"] == 1
    bare = _dev_view(dev, _generate(api, primary_id)["id"])["request"]
    assert bare["metadata"] is None and bare["service_tier"] == "standard"
    assert bare["service_tier_requested"] is None
    assert httpx.get(f"{dev.base_url}/_dev/predictions/nope", timeout=10).status_code == 404


# --- feedback ---------------------------------------------------------------------------------


def test_feedback_is_kept_per_prediction_oldest_first(api: httpx.Client, dev: Any, primary_id: str) -> None:
    prediction = _generate(api, primary_id)["id"]
    first = api.post(
        "/feedback/submit",
        json={"request_id": prediction, "response": {"invoice_id": "471102-A"}, "notes": "typo in id"},
    )
    assert first.status_code == 200, first.text
    assert set(first.json()) == {"id", "request_id", "created_at"}
    assert first.json()["request_id"] == prediction
    second = api.post("/feedback/submit", json={"request_id": prediction, "notes": "checked twice"}).json()
    listed = api.get(f"/feedback/{prediction}").json()
    assert listed["request_id"] == prediction
    assert [i["id"] for i in listed["items"]] == [first.json()["id"], second["id"]]
    assert listed["items"][0]["response"] == {"invoice_id": "471102-A"}
    assert listed["items"][1] == {**listed["items"][1], "response": None, "notes": "checked twice"}
    page = api.get(f"/feedback/{prediction}", params={"offset": 1, "limit": 1}).json()
    assert [i["id"] for i in page["items"]] == [second["id"]]
    assert dev.stats()["feedback"] == {"created": 2, "replayed": 0}


def test_feedback_for_an_unknown_prediction_is_404(api: httpx.Client, dev: Any) -> None:
    submit = api.post("/feedback/submit", json={"request_id": "no-such-prediction", "notes": "x"})
    assert submit.status_code == 404
    assert "no-such-prediction" in submit.json()["error"]["message"]
    assert api.get("/feedback/no-such-prediction").status_code == 404
    assert dev.stats()["feedback"]["created"] == 0


def test_feedback_needs_a_response_or_notes(api: httpx.Client, primary_id: str) -> None:
    prediction = _generate(api, primary_id)["id"]
    response = api.post("/feedback/submit", json={"request_id": prediction})
    assert response.status_code == 400
    assert "`response` or `notes`" in response.json()["error"]["message"]


def test_feedback_honours_idempotency_key(api: httpx.Client, dev: Any, primary_id: str) -> None:
    prediction = _generate(api, primary_id)["id"]
    body = {"request_id": prediction, "response": {"total_amount": 529.78}}
    headers = {"Idempotency-Key": "fb-1"}
    first = api.post("/feedback/submit", json=body, headers=headers)
    again = api.post("/feedback/submit", json=body, headers=headers)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = api.post("/feedback/submit", json={**body, "notes": "other"}, headers=headers)
    assert other.status_code == 409
    assert len(api.get(f"/feedback/{prediction}").json()["items"]) == 1
    assert dev.stats()["feedback"] == {"created": 1, "replayed": 1}


def test_feedback_survives_a_restart_with_state(start_devserver: Any, tmp_path: Path) -> None:
    args = ("--processing-time", "0", "--api-key", "k", "--state", str(tmp_path / "state.db"))
    headers = {"Authorization": "Bearer k"}
    with start_devserver(*args) as server:
        client = httpx.Client(base_url=server.base_url, headers=headers, timeout=10)
        file_id = upload(client, make_pdf(["Invoice number: A-1"]))["id"]
        prediction = _generate(client, file_id)["id"]
        kept = client.post("/feedback/submit", json={"request_id": prediction, "notes": "n"}).json()
        client.close()
    with start_devserver(*args) as server:
        items = httpx.get(f"{server.base_url}/feedback/{prediction}", headers=headers, timeout=10).json()
        assert [i["id"] for i in items["items"]] == [kept["id"]]


# --- confidence and grounding --------------------------------------------------------------


def test_einvoice_fields_are_near_certain_with_boxes(api: httpx.Client, primary_id: str) -> None:
    response = _generate(api, primary_id, config={"confidence": True, "grounding": True})["response"]
    assert response["invoice_id"] == PRIMARY_ID and response["total_amount"] == PRIMARY_TOTAL
    for field in ("invoice_id", "total_amount", "invoice_issue_date", "currency"):
        meta = response[f"{field}_metadata"]
        assert meta["confidence"] == 0.99, field
        x, y, w, h = meta["bbox"]["xywh"]
        assert 0 <= x < x + w <= 1 and 0 <= y < y + h <= 1 and w > 0 and h > 0, field
        assert meta["page"] == 0
    assert response["invoice_id_metadata"]["bbox_content"] == PRIMARY_ID
    assert response["total_amount_metadata"]["bbox_content"] == "529.87"
    # Objects and lists are near-certain too, but have no single place on the page.
    assert response["items_metadata"] == {"confidence": 0.99}
    # Fields the invoice does not have get no metadata.
    assert response["period_start"] is None and "period_start_metadata" not in response


def test_a_box_is_where_the_value_is_printed() -> None:
    """A page drawn with fpdf2 at known places; its own font metrics say where each value ends."""
    from fpdf import FPDF

    from airflow_provider_vlm.devserver.engines import EngineInput, run

    pdf = FPDF(unit="pt", format=(595, 842))
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    lines = [("Invoice number: ", "INV-7781", 100.0), ("Invoice date: ", "2026-11-16", 130.0)]
    lines.append(("Total due: ", "1,234.50", 400.0))
    for label, value, baseline in lines:
        pdf.text(60, baseline, label + value + (" EUR" if value == "1,234.50" else ""))
    result = run(
        EngineInput(
            media="document",
            domain="document.invoice",
            content=bytes(pdf.output()),
            config={"grounding": True},
        )
    )
    assert result.response is not None
    for field, (label, value, baseline) in zip(
        ("invoice_id", "invoice_issue_date", "total_amount"), lines, strict=True
    ):
        meta = result.response[f"{field}_metadata"]
        assert meta["bbox_content"] == value and "confidence" not in meta  # grounding alone
        x, y, w, h = meta["bbox"]["xywh"]
        assert x * 595 == pytest.approx(60 + pdf.get_string_width(label), abs=0.5), field
        assert w * 595 == pytest.approx(pdf.get_string_width(value), abs=0.5), field
        # From four fifths of the font size above the baseline (measured from the top) to a fifth below.
        assert y * 842 == pytest.approx(baseline - 0.8 * 11, abs=0.5), field
        assert h * 842 == pytest.approx(11, abs=0.5), field


def test_a_value_drawn_in_pieces_gets_one_box() -> None:
    """Text layers often draw a token in parts (kerning, font changes): the box spans them all."""
    from fpdf import FPDF

    from airflow_provider_vlm.devserver.engines import EngineInput, run

    pdf = FPDF(unit="pt", format=(595, 842))
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.text(60, 100, "Invoice number: INV-")
    pdf.text(60 + pdf.get_string_width("Invoice number: INV-"), 100, "7781")
    content = bytes(pdf.output())
    result = run(
        EngineInput(media="document", domain="document.invoice", content=content, config={"grounding": True})
    )
    assert result.response is not None and result.response["invoice_id"] == "INV-7781"
    meta = result.response["invoice_id_metadata"]
    assert meta["bbox_content"] == "INV-7781"
    x, _, w, _ = meta["bbox"]["xywh"]
    assert x * 595 == pytest.approx(60 + pdf.get_string_width("Invoice number: "), abs=0.5)
    assert w * 595 == pytest.approx(pdf.get_string_width("INV-7781"), abs=0.5)


@needs_real_invoices
def test_real_einvoices_get_boxes_for_id_and_total() -> None:
    """Measured: 82 of the 85 public e-invoices whose XML could be read show their id where the
    text layer has it, 82 their total (the rest print it differently, or not at all)."""
    from airflow_provider_vlm.devserver.engines import EngineInput, run

    read = boxed = 0
    for path in sorted(REAL_INVOICES.rglob("*.pdf")):
        config = {"confidence": True, "grounding": True}
        result = run(
            EngineInput(media="document", domain="document.invoice", content=path.read_bytes(), config=config)
        )
        response = result.response
        if response is None or response["_devserver"]["engine"] != "invoice-xml":
            continue
        for field in ("invoice_id", "total_amount"):
            if response.get(field) is not None:
                read += 1
                meta = response[f"{field}_metadata"]
                assert meta["confidence"] == 0.99
                boxed += "bbox" in meta
    assert read >= 150 and boxed >= 0.9 * read, (boxed, read)


def test_text_layer_values_are_less_certain_and_vary_with_how_they_were_found(
    api: httpx.Client, invoice_set: InvoiceSet
) -> None:
    file_id = upload(api, invoice_set.text_only[0].path.read_bytes(), "text.pdf")["id"]
    response = _generate(api, file_id, config={"confidence": True})["response"]
    labelled = response["invoice_id_metadata"]["confidence"]
    guessed = response["issuer_name_metadata"]["confidence"]  # a company suffix, no label
    assert 0.5 < guessed < labelled < 0.99
    assert "bbox" not in response["invoice_id_metadata"]  # confidence alone
    assert response["total_amount_metadata"]["confidence"] < 0.99


def test_nothing_is_added_unless_asked(api: httpx.Client, primary_id: str) -> None:
    response = _generate(api, primary_id)["response"]
    assert not [k for k in response if k.endswith("_metadata")]


def test_a_users_schema_gets_metadata_under_its_own_names(api: httpx.Client, primary_id: str) -> None:
    schema = {
        "type": "object",
        "properties": {"invoice_number": {"type": "string"}, "total": {"type": "number"}},
        "required": ["invoice_number", "total"],
    }
    config = {"json_schema": schema, "confidence": True, "grounding": True}
    response = _generate(api, primary_id, config=config)["response"]
    assert response["invoice_number"] == PRIMARY_ID
    assert response["invoice_number_metadata"]["bbox_content"] == PRIMARY_ID
    assert response["total_metadata"]["confidence"] == 0.99


# --- schema hash ----------------------------------------------------------------------------


def test_schema_hash_is_stable_and_follows_the_schema(api: httpx.Client) -> None:
    first = api.post("/schema", json={"domain": "document.invoice", "config": {}}).json()
    again = api.post("/schema", json={"domain": "document.invoice", "config": {}}).json()
    assert first["schema_hash"] == again["schema_hash"] and first["schema_version"] == again["schema_version"]
    assert first["schema_hash"] and first["schema_version"]
    hub = api.post("/hub/schema", json={"domain": "document.invoice"}).json()
    assert hub["schema_hash"] == first["schema_hash"]
    reordered = dict(reversed(list(first["json_schema"].items())))
    custom = api.post("/schema", json={"domain": "document.invoice", "config": {"json_schema": reordered}})
    assert custom.json()["schema_hash"] == first["schema_hash"]  # key order does not matter
    changed = {**first["json_schema"], "title": "Changed"}
    other = api.post("/schema", json={"domain": "document.invoice", "config": {"json_schema": changed}})
    assert other.json()["schema_hash"] != first["schema_hash"]


# --- admin routes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("ci-devserver.internal", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_which_keys_the_admin_routes_need() -> None:
    assert admin_keys("127.0.0.1", ["api"], None) is None
    assert admin_keys("0.0.0.0", ["api"], None) == ["api"]
    assert admin_keys("0.0.0.0", ["api"], ["admin"]) == ["admin"]
    assert admin_keys("127.0.0.1", ["api"], ["admin"]) == ["admin"]
    assert start_notice("127.0.0.1", None, explicit=False) is None
    notice = start_notice("0.0.0.0", ["api"], explicit=False)
    assert notice is not None and "need an API key" in notice and "0.0.0.0" in notice


def test_admin_routes_need_the_admin_key_when_required(start_devserver: Any) -> None:
    with start_devserver("--processing-time", "0", "--api-key", "k", "--admin-key", "adm") as server:
        base = server.base_url
        for method, path in (("GET", "/_dev/stats"), ("POST", "/_dev/reset"), ("GET", "/_dev/faults")):
            bare = httpx.request(method, base + path, timeout=10)
            assert bare.status_code == 401, path
            assert "admin routes need a key" in bare.json()["error"]["message"]
            api_key = httpx.request(method, base + path, headers={"Authorization": "Bearer k"}, timeout=10)
            assert api_key.status_code == 401, path  # an --admin-key replaces the API keys here
            keyed = httpx.request(method, base + path, headers={"Authorization": "Bearer adm"}, timeout=10)
            assert keyed.status_code == 200, path
        # The API itself is unchanged.
        assert (
            httpx.get(base + "/health", headers={"Authorization": "Bearer k"}, timeout=10).status_code == 200
        )


def test_admin_routes_take_no_key_on_loopback(dev: Any) -> None:
    assert httpx.get(f"{dev.base_url}/_dev/stats", timeout=10).status_code == 200
