"""Drive the dev server with the official ``vlmrun`` SDK, unmodified, and assert what it sees.

Run by the SDK's own interpreter (its pins clash with Airflow's), not collected by pytest:
``python sdk_conformance.py BASE_URL API_KEY INVOICE_PDF EXPECTED_INVOICE_ID``.
It imports nothing from this project. Exit code 0 and a last line ending "failing: 0" mean
every check passed.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from pydantic import BaseModel
from vlmrun.client import VLMRun
from vlmrun.client.exceptions import AuthenticationError, ResourceNotFoundError, ValidationError
from vlmrun.client.types import (
    FeedbackListResponse,
    FeedbackSubmitResponse,
    GenerationConfig,
    MarkdownDocument,
    RequestMetadata,
    SchemaResponse,
)
from vlmrun.common.viz import get_boxes_from_response

CHECKS: list[tuple[str, Callable[[], None]]] = []


def check(func: Callable[[], None]) -> Callable[[], None]:
    CHECKS.append((func.__name__, func))
    return func


class InvoiceSummary(BaseModel):
    """A user's model: a subset of the invoice fields."""

    invoice_id: str
    total_amount: float
    issuer_name: str | None = None


def set_faults(base_url: str, **settings: object) -> None:
    """The dev server's admin route (no key): the SDK has no call for it."""
    request = urllib.request.Request(
        base_url.rstrip("/") + "/_dev/faults",
        data=json.dumps(settings).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def dev_prediction(base_url: str, prediction_id: str) -> dict[str, object]:
    """What the dev server recorded of a prediction's request (its admin route)."""
    with urllib.request.urlopen(
        f"{base_url.rstrip('/')}/_dev/predictions/{prediction_id}", timeout=10
    ) as answer:
        result: dict[str, object] = json.loads(answer.read())
        return result


def main() -> int:
    base_url, api_key, pdf, expected_id = sys.argv[1:5]
    invoice = Path(pdf)
    client = VLMRun(api_key=api_key, base_url=base_url, max_retries=2)  # checks GET /health == 200
    work = Path(tempfile.mkdtemp())
    state: dict[str, str] = {}

    @check
    def healthcheck() -> None:
        assert client.healthcheck() is True

    @check
    def wrong_key_is_refused() -> None:
        try:
            VLMRun(api_key="not-the-key", base_url=base_url, max_retries=1)
        except AuthenticationError:
            return
        raise AssertionError("a wrong key was accepted")

    @check
    def upload_then_dedupe_by_md5() -> None:
        first = client.files.upload(invoice)
        assert first.id and first.bytes == invoice.stat().st_size and first.filename == invoice.name
        again = client.files.upload(invoice)  # GET /files/hash/{md5} finds it: no second upload
        assert again.id == first.id
        assert client.files.get(first.id).id == first.id
        assert first.id in [f.id for f in client.files.list(skip=0, limit=10)]
        state["file_id"] = first.id

    @check
    def document_generate_batch_then_wait() -> None:
        prediction = client.document.generate(file=invoice, domain="document.invoice", batch=True)
        assert prediction.status in ("enqueued", "pending", "running"), prediction.status
        assert client.predictions.get(prediction.id).id == prediction.id
        done = client.predictions.wait(prediction.id, timeout=60, sleep=1)
        assert done.status == "completed"
        assert done.response["invoice_id"] == expected_id, done.response
        assert done.usage.element_type == "page" and done.usage.elements_processed >= 1
        assert done.domain == "document.invoice"
        state["prediction_id"] = prediction.id

    @check
    def document_generate_by_file_id_with_autocast() -> None:
        prediction = client.document.generate(file=state["file_id"], domain="document.invoice", autocast=True)
        assert prediction.status == "completed"
        # The response was cast into the pydantic model built from POST /schema's JSON schema.
        assert not isinstance(prediction.response, dict), type(prediction.response)
        assert prediction.response.invoice_id == expected_id

    @check
    def predictions_list_newest_first() -> None:
        listed = client.predictions.list(skip=0, limit=2)
        assert len(listed) == 2
        assert listed[0].created_at >= listed[1].created_at
        assert state["prediction_id"] in [p.id for p in client.predictions.list(skip=0, limit=10)]

    @check
    def unknown_prediction_is_not_found() -> None:
        try:
            client.predictions.get("no-such-prediction")
        except ResourceNotFoundError:
            return
        raise AssertionError("unknown prediction did not raise ResourceNotFoundError")

    @check
    def markdown_is_cast_to_markdown_document() -> None:
        prediction = client.document.generate(file=invoice, domain="document.markdown")
        assert prediction.status == "completed"
        assert isinstance(prediction.response, MarkdownDocument)
        assert len(prediction.response.pages) >= 1
        assert prediction.response.pages[0].content

    @check
    def image_generate_from_png_path() -> None:
        png = work / "pixel.png"
        Image.new("RGB", (8, 8), (200, 30, 30)).save(png)
        prediction = client.image.generate(images=[png], domain="image.caption")  # sent as a JPEG data URL
        assert prediction.status == "completed"
        assert prediction.usage.element_type == "image" and prediction.usage.elements_processed == 1
        batch = client.image.generate(images=[png], domain="image.caption", batch=True)
        assert client.predictions.wait(batch.id, timeout=60, sleep=1).status == "completed"

    @check
    def get_schema_and_response_model() -> None:
        schema = client.get_schema("document.invoice")
        assert isinstance(schema, SchemaResponse)
        assert "invoice_id" in schema.json_schema["properties"]
        model = schema.response_model
        assert "invoice_id" in model.model_fields
        markdown = client.get_schema("document.markdown", config=GenerationConfig())
        assert "pages" in markdown.json_schema["properties"]

    @check
    def document_schema_from_file() -> None:
        prediction = client.document.schema(file=invoice)
        assert isinstance(prediction.response, SchemaResponse)
        assert prediction.response.domain == "document.invoice"

    @check
    def list_domains() -> None:
        domains = {d.domain for d in client.list_domains()}
        assert {"document.invoice", "document.markdown"} <= domains

    @check
    def catalog_domains_through_both_listings() -> None:
        domains = {d.domain for d in client.list_domains()}
        hub = {d.domain for d in client.hub.list_domains()}
        assert len(hub) >= 30 and {"document.receipt", "logistics.bill-of-lading"} <= hub, hub
        assert hub <= domains
        assert {"document.markdown", "image.caption"} <= domains - hub
        assert client.hub.info().version

    @check
    def receipt_schema_from_the_catalog() -> None:
        hub_schema = client.hub.get_schema("document.receipt")
        assert {"merchant_name", "total", "items"} <= set(hub_schema.json_schema["properties"])
        schema = client.get_schema("document.receipt")
        assert schema.json_schema == hub_schema.json_schema
        assert "total" in schema.response_model.model_fields

    @check
    def models_list() -> None:
        models = client.models.list()
        assert {"document.invoice", "document.receipt"} <= {m.domain for m in models}

    @check
    def typo_domain_is_refused() -> None:
        try:
            client.document.generate(file=state["file_id"], domain="document.invoicee")
        except ValidationError as exc:
            assert "did you mean 'document.invoice'" in exc.message, exc.message
            return
        raise AssertionError("a typo domain was accepted")

    @check
    def response_model_gets_the_real_values() -> None:
        prediction = client.document.generate(
            file=state["file_id"],
            domain="document.invoice",
            config=GenerationConfig(response_model=InvoiceSummary),
        )
        assert prediction.status == "completed"
        summary = InvoiceSummary.model_validate(prediction.response)
        assert summary.invoice_id == expected_id and summary.total_amount > 0

    @check
    def paused_then_completed() -> None:
        set_faults(base_url, pause=1.5)
        try:
            prediction = client.document.generate(
                file=state["file_id"], domain="document.invoice", batch=True
            )
        finally:
            set_faults(base_url, pause=0)
        seen = [prediction.status]
        deadline = time.monotonic() + 60
        while seen[-1] != "completed" and time.monotonic() < deadline:
            time.sleep(0.2)
            status = client.predictions.get(prediction.id).status
            if status != seen[-1]:
                seen.append(status)
        assert seen[0] == "paused" and seen[-1] == "completed", seen

    @check
    def confidence_and_boxes_for_invoice_id_and_total() -> None:
        prediction = client.document.generate(
            file=state["file_id"],
            domain="document.invoice",
            config=GenerationConfig(confidence=True, grounding=True),
        )
        response = prediction.response
        assert response["invoice_id"] == expected_id
        for field in ("invoice_id", "total_amount"):
            meta = response[f"{field}_metadata"]
            assert meta["confidence"] >= 0.95, meta  # read from the embedded XML
            x, y, w, h = meta["bbox"]["xywh"]
            assert x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= 1 and y + h <= 1, meta
        # The SDK's own renderer finds the boxes.
        fields = {box["field"] for box in get_boxes_from_response(prediction)}
        assert {"invoice_id", "total_amount"} <= fields, fields

    @check
    def autocast_still_casts_with_confidence() -> None:
        prediction = client.document.generate(
            file=state["file_id"],
            domain="document.invoice",
            config=GenerationConfig(confidence=True),
            autocast=True,
        )
        assert not isinstance(prediction.response, dict), type(prediction.response)
        assert prediction.response.invoice_id == expected_id

    @check
    def feedback_submit_then_read_back() -> None:
        prediction_id = state["prediction_id"]
        sent = client.feedback.submit(prediction_id, response={"invoice_id": expected_id}, notes="checked")
        assert isinstance(sent, FeedbackSubmitResponse) and sent.request_id == prediction_id
        listed = client.feedback.get(prediction_id)
        assert isinstance(listed, FeedbackListResponse) and listed.request_id == prediction_id
        assert [item.id for item in listed.items] == [sent.id]
        assert listed.items[0].response == {"invoice_id": expected_id} and listed.items[0].notes == "checked"

    @check
    def feedback_for_an_unknown_prediction_is_refused() -> None:
        try:
            client.feedback.submit("no-such-prediction", notes="x")
        except ResourceNotFoundError:
            return
        raise AssertionError("feedback for an unknown prediction was accepted")

    @check
    def flex_is_billed_half() -> None:
        standard = client.document.generate(file=state["file_id"], domain="document.invoice")
        flex = client.document.generate(
            file=state["file_id"], domain="document.invoice", config=GenerationConfig(service_tier="flex")
        )
        assert standard.usage.credits_used and flex.usage.credits_used
        assert flex.usage.credits_used * 2 == standard.usage.credits_used, (flex.usage, standard.usage)

    @check
    def request_metadata_is_recorded_as_sent() -> None:
        prediction = client.document.generate(
            file=state["file_id"],
            domain="document.invoice",
            batch=True,
            metadata=RequestMetadata(environment="prod", allow_training=False, session_id="night-1"),
            config=GenerationConfig(service_tier="flex"),
        )
        recorded = dev_prediction(base_url, prediction.id)["request"]
        assert isinstance(recorded, dict), recorded
        assert recorded["metadata"] == {
            "environment": "prod",
            "allow_training": False,
            "session_id": "night-1",
        }
        assert recorded["service_tier"] == "flex", recorded

    @check
    def schema_hash_and_version() -> None:
        first, again = client.get_schema("document.invoice"), client.get_schema("document.invoice")
        assert first.schema_hash and first.schema_version
        assert (first.schema_hash, first.schema_version) == (again.schema_hash, again.schema_version)

    failed = 0
    for name, func in CHECKS:
        try:
            func()
        except Exception as exc:  # report every failing check, not just the first
            failed += 1
            print(f"FAIL {name}: {type(exc).__name__}: {exc}")
        else:
            print(f"ok   {name}")
    print(f"SDK conformance checks ok: {len(CHECKS) - failed}, failing: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
