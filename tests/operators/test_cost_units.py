"""Cost and privacy arguments without an Airflow run: folding, clashes, estimates, the ledger."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_vlm.client import GenerationConfig, RequestMetadata, VlmInputError
from airflow_provider_vlm.client.pricing import TIER_RATES, tier_rate
from airflow_provider_vlm.decorators.vlm import vlm_task
from airflow_provider_vlm.operators._budget import Budget, Estimate, Ledger, estimate
from airflow_provider_vlm.operators._inputs import LoadedInput
from airflow_provider_vlm.operators._pages import document_pages, pdf_pages
from airflow_provider_vlm.operators.batch import GenerateBatchOperator
from airflow_provider_vlm.operators.generate import GenerateOperator
from tests.invoices import REAL_INVOICES, needs_real_invoices


def _conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, **extra: Any) -> str:
    conn = {"conn_type": "vlm", "host": "http://127.0.0.1:9/v1", "password": "k", "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn_id


def test_tier_confidence_and_grounding_fold_into_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = _conn(monkeypatch, "vlm_fold")
    op = GenerateOperator(
        task_id="t",
        domain="document.invoice",
        file="a.pdf",
        config={"detail": "hi"},
        service_tier="flex",
        confidence=True,
        grounding=False,
        vlm_conn_id=conn,
    )
    sent = op.submission()
    assert sent.config == {"detail": "hi", "service_tier": "flex", "confidence": True, "grounding": False}
    assert sent.metadata is None  # nothing chosen anywhere: the platform's defaults apply
    assert op.requested_tier() == "flex"


@pytest.mark.parametrize(
    "config",
    [{"service_tier": "priority"}, GenerationConfig(service_tier="priority")],
)
def test_a_tier_given_twice_differently_fails_at_parse_time_naming_both(config: Any) -> None:
    with pytest.raises(
        VlmInputError, match=r"service_tier='flex' clashes with config\['service_tier'\]='priority'"
    ):
        GenerateBatchOperator(
            task_id="t", domain="document.invoice", source="in", config=config, service_tier="flex"
        )
    # The same value twice is no clash.
    GenerateOperator(
        task_id="u", domain="document.invoice", file="a.pdf", config={"confidence": True}, confidence=True
    )


def test_clashing_metadata_and_unknown_values_fail_at_parse_time() -> None:
    with pytest.raises(
        VlmInputError, match=r"allow_training=False clashes with metadata\['allow_training'\]=True"
    ):
        GenerateOperator(
            task_id="t",
            domain="document.invoice",
            file="a.pdf",
            metadata=RequestMetadata(allow_training=True),
            allow_training=False,
        )
    with pytest.raises(VlmInputError, match="service_tier: 'cheap' is not a service tier; use one of auto"):
        GenerateOperator(task_id="t", domain="document.invoice", file="a.pdf", service_tier="cheap")
    with pytest.raises(VlmInputError, match="environment must be one of dev, staging, prod"):
        GenerateOperator(task_id="t", domain="document.invoice", file="a.pdf", environment="production")
    with pytest.raises(VlmInputError, match="max_credits needs inputs whose cost is known"):
        GenerateOperator(
            task_id="t", domain="audio.transcription", media="audio", file="a.mp3", max_credits=5
        )
    with pytest.raises(VlmInputError, match="max_credits must be a number of credits > 0"):
        GenerateBatchOperator(task_id="t", domain="document.invoice", source="in", max_credits=0)
    # A template is checked once rendered.
    GenerateBatchOperator(
        task_id="t",
        domain="document.invoice",
        source="in",
        max_credits="{{ var.value.budget }}",
        service_tier="{{ x }}",
    )


def test_the_operator_overrides_the_connection_which_overrides_the_platform(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = _conn(monkeypatch, "vlm_private", allow_training=False, environment="prod")
    op = GenerateOperator(task_id="t", domain="document.invoice", file="a.pdf", vlm_conn_id=conn)
    assert op.submission().metadata == {"allow_training": False, "environment": "prod"}
    op = GenerateOperator(
        task_id="t",
        domain="document.invoice",
        file="a.pdf",
        vlm_conn_id=conn,
        metadata={"session_id": "night-1"},
        environment="staging",
        allow_training=True,
    )
    assert op.submission().metadata == {
        "session_id": "night-1",
        "environment": "staging",
        "allow_training": True,
    }


def test_a_bad_connection_choice_names_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = _conn(monkeypatch, "vlm_badenv", environment="production")
    op = GenerateOperator(task_id="t", domain="document.invoice", file="a.pdf", vlm_conn_id=conn)
    with pytest.raises(VlmInputError, match="connection 'vlm_badenv': extra 'environment' must be one of"):
        op.submission()


def test_the_decorator_takes_the_same_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = _conn(monkeypatch, "vlm_deco", allow_training=False)
    from airflow.sdk import DAG

    with DAG("cost_deco", schedule=None):

        @vlm_task(domain="document.invoice", service_tier="flex", max_credits=3, vlm_conn_id=conn)
        def pick() -> str:
            return "a.pdf"

        op = pick().operator
    assert op.max_credits == 3.0
    assert op.submission().config == {"service_tier": "flex"}
    assert op.submission().metadata == {"allow_training": False}
    assert {"service_tier", "environment", "max_credits"} <= set(op.template_fields)


def test_tier_rates_follow_the_platform() -> None:
    assert TIER_RATES["flex"] == 0.5 and TIER_RATES["priority"] == 1.8
    assert tier_rate(None) == tier_rate("auto") == tier_rate("standard") == 1.0


def _pdf(pages: int, *, compressed: bool) -> bytes:
    """A minimal PDF with ``pages`` pages, its objects plain or inside one object stream."""
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
    ]
    objects += [b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>" for _ in range(pages)]
    if not compressed:
        body = b"".join(f"{i + 1} 0 obj\n".encode() + o + b"\nendobj\n" for i, o in enumerate(objects))
        return b"%PDF-1.4\n" + body + b"trailer << /Root 1 0 R >>\n%%EOF\n"
    packed = zlib.compress(b"\n".join(objects))
    head = f"1 0 obj\n<< /Type /ObjStm /N {len(objects)} /First 0 /Filter /FlateDecode /Length {len(packed)} >>\n"
    return b"%PDF-1.5\n" + head.encode() + b"stream\n" + packed + b"\nendstream\nendobj\n%%EOF\n"


@pytest.mark.parametrize("compressed", [False, True])
def test_pages_are_counted_from_the_bytes(compressed: bool) -> None:
    assert pdf_pages(_pdf(3, compressed=compressed)) == 3
    assert pdf_pages(_pdf(1, compressed=compressed)) == 1


def test_pages_that_cannot_be_counted_are_unknown_not_guessed() -> None:
    hidden = _pdf(3, compressed=True).replace(b"/FlateDecode", b"/LZWDecode")
    assert pdf_pages(hidden) is None
    assert document_pages(b"this is not a PDF") is None
    assert document_pages(b"\x89PNG\r\n\x1a\n....") == 1


def test_the_generated_invoices_count_as_their_pages(invoice_set: Any) -> None:
    pypdf = pytest.importorskip("pypdf")
    for invoice in invoice_set.good:
        assert pdf_pages(invoice.path.read_bytes()) == len(pypdf.PdfReader(invoice.path).pages)


@needs_real_invoices
def test_real_invoices_are_never_counted_low() -> None:
    pypdf = pytest.importorskip("pypdf")
    for path in sorted(Path(REAL_INVOICES).rglob("*.pdf")):
        counted = pdf_pages(path.read_bytes())
        assert counted is None or counted >= len(pypdf.PdfReader(path).pages), path


def test_estimates_price_the_pages_by_the_rate_card_in_whole_credits() -> None:
    three = LoadedInput(label="a.pdf", content=_pdf(3, compressed=False))
    invoice = "document.invoice"
    assert estimate(three, "document", invoice, None) == Estimate(6.0, 3)  # 2 per page at auto
    assert estimate(three, "document", invoice, {"service_tier": "flex"}).credits == 3.0
    assert estimate(three, "document", invoice, {"detail": "lo", "service_tier": "flex"}).credits == 2.0
    assert estimate(three, "document", invoice, {"grounding": True}).credits == 12.0  # +2 per page
    one_page_priority = {"service_tier": "priority", "page_indices": [0]}
    assert estimate(three, "document", invoice, one_page_priority).credits == 4.0  # 3.6, billed whole
    assert estimate(three, "document", "document.markdown", {"detail": "hi"}).credits == 18.0
    four = LoadedInput(label="b.pdf", content=_pdf(4, compressed=True))
    assert estimate(four, "document", invoice, {"service_tier": "flex"}).credits == 4.0
    two = LoadedInput(label="2", images=("u1", "u2"))
    assert estimate(two, "image", "image.caption", None).credits == 4.0
    url = estimate(LoadedInput(label="u", url="https://x.example/a.pdf"), "document", invoice, None)
    assert url.credits is None and "URL" in (url.unknown or "")


def test_the_budget_stops_at_the_first_input_that_does_not_fit() -> None:
    budget = Budget(2.5, None, Ledger(0, {"standard": 1.0}))
    assert budget.admit(Estimate(1.0, 1)) is None
    assert "would be exceeded" in (budget.admit(Estimate(1.0, 1)) or "")
    assert budget.admit(Estimate(0.5, 1)) is not None  # nothing after the stop, even what would fit
    assert budget.ledger.total == 2.0


def test_a_ledger_is_per_clear_except_after_a_budget_stop() -> None:
    store: dict[str, Any] = {}

    class Store:
        def get(self, key: str, default: Any = None) -> Any:
            return store.get(key, default)

        def set(self, key: str, value: Any, *, retention: Any = None) -> None:
            store[key] = value

    Ledger(0, {"flex": 2.0}).save(Store())
    assert Ledger.load(Store(), 0).total == 2.0  # a retry counts what earlier tries reserved
    assert Ledger.load(Store(), 1).total == 0.0  # a Clear extracts afresh
    Ledger(0, {"flex": 2.0}, stopped=True).save(Store())
    carried = Ledger.load(Store(), 1)  # unless the night stopped on its budget
    assert (carried.total, carried.continued_from, carried.clear_number) == (2.0, 0, 1)
