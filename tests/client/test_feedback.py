"""``client.feedback``: corrections sent back for a prediction, sync and async, as the SDK names them."""

from __future__ import annotations

import asyncio
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_vlm.client import (
    AsyncVlmClient,
    FeedbackListResponse,
    FeedbackSubmitResponse,
    NotFoundError,
    OutcomeUnknownError,
    VlmClient,
    VlmInputError,
)
from airflow_provider_vlm.hooks.vlm import VlmHook
from tests.client.conftest import route_count


@pytest.fixture
def prediction_id(client: VlmClient, invoice_pdf: Path) -> str:
    return client.document.generate(file=invoice_pdf, domain="document.invoice").id


def test_submit_then_get(client: VlmClient, prediction_id: str, dev: Any) -> None:
    sent = client.feedback.submit(prediction_id, response={"invoice_id": "471102-A"}, notes="typo")
    assert isinstance(sent, FeedbackSubmitResponse)
    assert sent.request_id == prediction_id and sent.id and sent.created_at is not None
    notes_only = client.feedback.submit(prediction_id, notes="checked")
    listed = client.feedback.get(prediction_id)
    assert isinstance(listed, FeedbackListResponse)
    assert [item.id for item in listed.items] == [sent.id, notes_only.id]
    assert listed.items[0].response == {"invoice_id": "471102-A"} and listed.items[0].notes == "typo"
    assert [i.id for i in client.feedback.get(prediction_id, offset=1, limit=5).items] == [notes_only.id]
    assert dev.stats()["feedback"]["created"] == 2


def test_async_client_mirrors_it(dev: Any, prediction_id: str) -> None:
    async def go() -> tuple[FeedbackSubmitResponse, FeedbackListResponse]:
        async with AsyncVlmClient(dev.api_key, dev.base_url, timeout=10) as client:
            sent = await client.feedback.submit(prediction_id, notes="async note")
            return sent, await client.feedback.get(prediction_id)

    sent, listed = asyncio.run(go())
    assert [i.id for i in listed.items] == [sent.id] and listed.items[0].notes == "async note"
    sync = VlmClient("k", "http://127.0.0.1:9/v1")
    aio = AsyncVlmClient("k", "http://127.0.0.1:9/v1")
    for name in ("submit", "get"):
        assert inspect.signature(getattr(sync.feedback, name)) == inspect.signature(
            getattr(aio.feedback, name)
        )
        assert inspect.iscoroutinefunction(getattr(aio.feedback, name))
    sync.close()


def test_the_sdk_parameter_names() -> None:
    client = VlmClient("k", "http://127.0.0.1:9/v1")
    submit = inspect.signature(client.feedback.submit).parameters
    assert list(submit)[:3] == ["request_id", "response", "notes"]
    get = inspect.signature(client.feedback.get).parameters
    assert list(get) == ["request_id", "offset", "limit"] and get["limit"].default == 10
    client.close()


def test_unknown_prediction_is_not_found(client: VlmClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.feedback.submit("no-such-prediction", notes="x")
    assert caught.value.status_code == 404 and "no-such-prediction" in str(caught.value)
    assert "no route" not in str(caught.value)  # the prediction is unknown, not the route
    with pytest.raises(NotFoundError):
        client.feedback.get("no-such-prediction")


def test_neither_response_nor_notes_is_refused_before_sending(client: VlmClient, dev: Any) -> None:
    with pytest.raises(VlmInputError, match="response or notes") as caught:
        client.feedback.submit("p-1")
    assert isinstance(caught.value, ValueError)  # as the SDK raises
    with pytest.raises(VlmInputError, match="mapping"):
        client.feedback.submit("p-1", response=["not", "a", "mapping"])  # type: ignore[arg-type]
    assert route_count(dev.stats(), "POST /feedback/submit") == 0


def test_an_autocast_response_can_be_sent_back(client: VlmClient, invoice_pdf: Path) -> None:
    prediction = client.document.generate(file=invoice_pdf, domain="document.invoice", autocast=True)
    client.feedback.submit(prediction.id, response=prediction.response, notes="as extracted")
    kept = client.feedback.get(prediction.id).items[0].response
    assert kept is not None and kept["invoice_id"] == prediction.response.invoice_id


def test_an_ambiguous_failure_is_raised_not_resent(client: VlmClient, prediction_id: str, dev: Any) -> None:
    """The answer is lost after the server kept the feedback: resending would keep it twice."""
    dev.faults(drop_after_create=1)
    with pytest.raises(OutcomeUnknownError):
        client.feedback.submit(prediction_id, notes="once", idempotency_key="review-1")
    stats = dev.stats()
    assert route_count(stats, "POST /feedback/submit") == 1  # not resent
    assert stats["feedback"]["created"] == 1
    # Settling it with the same key hands back the kept record: still one.
    again = client.feedback.submit(prediction_id, notes="once", idempotency_key="review-1")
    items = client.feedback.get(prediction_id).items
    assert [i.id for i in items] == [again.id]
    assert dev.stats()["feedback"] == {"created": 1, "replayed": 1}


def test_a_refused_submit_is_resent(client: VlmClient, prediction_id: str, dev: Any) -> None:
    dev.faults(
        rules=[{"method": "POST", "path": "/feedback/submit", "status": 429, "count": 1, "retry_after": 0}]
    )
    client.feedback.submit(prediction_id, notes="after a 429")
    stats = dev.stats()
    assert route_count(stats, "POST /feedback/submit") == 2 and stats["feedback"]["created"] == 1


def test_hook_sends_and_reads_feedback(dev: Any, prediction_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "vlm", "host": dev.base_url, "password": dev.api_key}
    monkeypatch.setenv("AIRFLOW_CONN_VLM_FEEDBACK", json.dumps(conn))
    hook = VlmHook("vlm_feedback")
    sent = hook.submit_feedback(
        prediction_id, response={"total_amount": 529.78}, notes="reviewer: amount", idempotency_key="k-1"
    )
    hook.submit_feedback(
        prediction_id, response={"total_amount": 529.78}, notes="reviewer: amount", idempotency_key="k-1"
    )
    listed = hook.get_feedback(prediction_id)
    assert [i.id for i in listed.items] == [sent.id]
    assert listed.items[0].response == {"total_amount": 529.78}
    hook.close()
