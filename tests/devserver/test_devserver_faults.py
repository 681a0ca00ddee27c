"""Idempotency, stats and every kind of fault, seen by a plain httpx client over loopback."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from devserver_helpers import make_pdf, upload

PDF = make_pdf(["fault tests"])


def _generate(client: httpx.Client, file_id: str, key: str | None = None, **extra: Any) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    body = {"file_id": file_id, "domain": "document.invoice", "batch": True, **extra}
    return client.post("/document/generate", json=body, headers=headers)


def test_idempotency_same_body_same_prediction(dev: Any, api: httpx.Client) -> None:
    file_id = upload(api, PDF)["id"]
    first = _generate(api, file_id, key="k-1")
    again = _generate(api, file_id, key="k-1")
    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = _generate(api, file_id, key="k-1", domain="document.markdown")
    assert other.status_code == 409
    assert "k-1" in other.json()["error"]["message"]
    _generate(api, file_id)
    _generate(api, file_id)
    stats = dev.stats()
    assert stats["submissions"] == {"k-1": 1, "": 2}
    assert stats["predictions_created"] == 3
    assert stats["requests"]["POST /document/generate"] == 5
    assert stats["requests"]["POST /files"] == 1


def test_idempotent_blocking_replay_waits_for_the_same_prediction(dev: Any, api: httpx.Client) -> None:
    file_id = upload(api, PDF)["id"]
    first = _generate(api, file_id, key="k-block", batch=False).json()
    again = _generate(api, file_id, key="k-block", batch=False).json()
    assert first["id"] == again["id"]
    assert again["status"] == "completed"


def test_stats_count_route_templates(dev: Any, api: httpx.Client) -> None:
    api.get("/predictions/a")
    api.get("/predictions/b")
    api.get("/predictions")
    api.get("/health")
    requests = dev.stats()["requests"]
    assert requests["GET /predictions/{id}"] == 2
    assert requests["GET /predictions"] == 1
    assert requests["GET /health"] == 1
    assert "GET /_dev/stats" not in requests


def test_latency(dev: Any, api: httpx.Client) -> None:
    dev.faults(latency=0.3)
    started = time.monotonic()
    assert api.get("/health").status_code == 200
    assert time.monotonic() - started >= 0.3


@pytest.mark.timeout(60)
def test_admin_routes_are_never_delayed(dev: Any) -> None:
    """With an hour of latency, the admin routes still answer (delayed, they would hang the test)."""
    dev.faults(latency=3600)
    assert dev.stats()["requests"] == {}
    assert dev.faults(latency=0)["latency"] == 0


def test_error_rate_only_for_chosen_methods(dev: Any, api: httpx.Client) -> None:
    file_id = upload(api, PDF)["id"]
    settings = dev.faults(error_rate=1.0, error_status=503, methods=["get"])
    assert settings["methods"] == ["GET"]
    failed = api.get("/health")
    assert failed.status_code == 503
    assert failed.json()["error"]["type"] == "server_error"
    assert _generate(api, file_id).status_code == 200  # POST is spared
    assert dev.stats()["faults_injected"]["error"] == 1


def test_rate_limit_with_retry_after(dev: Any, api: httpx.Client) -> None:
    dev.faults(rate_limit_rate=1.0, retry_after=2)
    response = api.get("/predictions")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert dev.stats()["faults_injected"]["rate_limit"] == 1


def test_random_faults_are_seeded(dev: Any, api: httpx.Client) -> None:
    def run() -> list[int]:
        dev.reset()
        dev.faults(error_rate=0.3, rate_limit_rate=0.3)
        return [api.get("/health").status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert {200, 429, 500} == set(first)


def test_dropped_connection_gets_no_answer(dev: Any) -> None:
    dev.faults(drop_rate=1.0)
    # A fresh plain client: the connection must be closed with no HTTP response at all.
    headers = {"Authorization": f"Bearer {dev.api_key}"}
    with (
        httpx.Client(base_url=dev.base_url, headers=headers) as client,
        pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
    ):
        client.get("/health")
    assert dev.stats()["faults_injected"]["drop"] == 1
    dev.faults(drop_rate=0.0)
    with dev.client() as client:
        assert client.get("/health").status_code == 200


def test_drop_after_create_loses_the_answer_but_keeps_the_prediction(dev: Any, api: httpx.Client) -> None:
    file_id = upload(api, PDF)["id"]
    dev.faults(drop_after_create=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        _generate(api, file_id, key="lost-answer")
    stats = dev.stats()
    assert stats["submissions"] == {"lost-answer": 1}
    assert stats["faults_injected"]["drop_after_create"] == 1
    newest = api.get("/predictions", params={"limit": 1}).json()[0]
    # The retry with the same key finds the orphan instead of creating a second prediction.
    retry = _generate(api, file_id, key="lost-answer")
    assert retry.status_code == 200
    assert retry.json()["id"] == newest["id"]
    assert dev.stats()["submissions"] == {"lost-answer": 1}


def test_drop_after_create_spares_refused_requests(dev: Any, api: httpx.Client) -> None:
    dev.faults(drop_after_create=1)
    assert (
        api.post("/document/generate", json={"file_id": "missing", "domain": "document.invoice"}).status_code
        == 404
    )
    assert dev.faults()["drop_after_create"] == 1


def test_rule_with_count(dev: Any, api: httpx.Client) -> None:
    dev.faults(rules=[{"method": "GET", "path": "/predictions/*", "status": 404, "count": 2}])
    codes = [api.get("/predictions/x").status_code for _ in range(3)]
    assert codes == [404, 404, 404]  # the third is the real "not found"
    assert dev.stats()["faults_injected"]["rule"] == 2
    assert api.get("/health").status_code == 200
    dev.reset()
    dev.faults(rules=[{"path": "/health", "status": 502, "count": 1}])
    assert [api.get("/health").status_code for _ in range(2)] == [502, 200]


def test_rule_with_seconds_and_retry_after(dev: Any, api: httpx.Client) -> None:
    dev.faults(rules=[{"method": "GET", "path": "/health", "status": 503, "seconds": 600, "retry_after": 1}])
    refused = api.get("/health")
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"


def test_rule_with_seconds_ends_at_its_expiry(dev: Any, api: httpx.Client) -> None:
    """The rule's window is the server's own clock: wait until it says the window ended."""
    (rule,) = dev.faults(rules=[{"method": "GET", "path": "/health", "status": 503, "seconds": 0.5}])["rules"]
    assert rule["expires_at"] is not None
    while time.time() < rule["expires_at"]:  # the server and the test share the machine's clock
        time.sleep(0.05)
    assert api.get("/health").status_code == 200
    assert dev.faults()["rules"] == [] or not any(
        r["expires_at"] > time.time() for r in dev.faults()["rules"]
    )


def test_processing_time_at_run_time(dev: Any, api: httpx.Client) -> None:
    file_id = upload(api, PDF)["id"]
    dev.faults(processing_time=0.2)
    started = time.monotonic()
    body = _generate(api, file_id, batch=False).json()
    assert body["status"] == "completed"
    assert time.monotonic() - started >= 0.2  # batch=false answered once it was done
    took = datetime.fromisoformat(body["completed_at"]) - datetime.fromisoformat(body["created_at"])
    assert took.total_seconds() == pytest.approx(0.2, abs=0.05)  # the server's record: 0.2 s, not the default


def test_responses_replace_the_engine_result_for_that_domain(dev: Any, api: httpx.Client) -> None:
    file_id = upload(api, PDF)["id"]
    canned = {"invoice_id": 12345, "total_amount": "lots"}
    settings = dev.faults(responses={"document.invoice": canned})
    assert settings["responses"] == {"document.invoice": canned}
    body = _generate(api, file_id, key="canned", batch=False).json()
    assert body["status"] == "completed"
    response = body["response"]
    assert {k: response[k] for k in canned} == canned
    assert response["_devserver"]["engine"] == "fault"  # still marked as the dev server's
    assert body["usage"]["credits_used"] == 2  # the engine's usage: one page, two credits
    # Other domains still get the engine's result.
    other = _generate(api, file_id, domain="document.markdown", batch=False).json()
    assert other["response"]["_devserver"]["engine"] == "markdown"


def test_responses_turn_an_unreadable_input_into_a_completed_prediction(dev: Any, api: httpx.Client) -> None:
    file_id = upload(api, b"not a pdf", name="bad.pdf")["id"]
    assert _generate(api, file_id, batch=False).json()["status"] == "failed"
    marked = {"invoice_id": "X-1", "_devserver": {"engine": "test"}}
    dev.faults(responses={"document.invoice": marked})
    body = _generate(api, file_id, batch=False).json()
    assert body["status"] == "completed"
    assert body["response"] == marked  # a response that carries its own marker is kept as given


def test_responses_are_cleared_by_reset_and_by_an_empty_mapping(dev: Any, api: httpx.Client) -> None:
    file_id = upload(api, PDF)["id"]
    dev.faults(responses={"document.invoice": {"invoice_id": 1}})
    dev.faults(latency=0)  # other settings leave the responses alone
    assert dev.faults()["responses"] == {"document.invoice": {"invoice_id": 1}}
    dev.faults(responses={})
    assert dev.faults()["responses"] == {}
    dev.faults(responses={"document.invoice": {"invoice_id": 1}})
    dev.reset()
    assert dev.faults()["responses"] == {}
    body = _generate(api, file_id, batch=False).json()
    assert body["response"]["_devserver"]["engine"] != "fault"


def test_bad_fault_settings_are_422(dev: Any) -> None:
    with httpx.Client(base_url=dev.base_url) as admin:
        assert admin.post("/_dev/faults", json={"error_rate": 2}).status_code == 422
        assert admin.post("/_dev/faults", json={"nonsense": 1}).status_code == 422
        assert admin.post("/_dev/faults", json={"rules": [{"path": "/x"}]}).status_code == 422
        assert admin.post("/_dev/faults", json={"responses": {"document.invoice": [1]}}).status_code == 422


def test_reset_state_clears_predictions(start_devserver: Any) -> None:
    with start_devserver("--processing-time", "0") as server, server.client() as client:
        file_id = upload(client, PDF)["id"]
        _generate(client, file_id)
        server.reset()
        assert len(client.get("/predictions").json()) == 1
        server.reset(state=True)
        assert client.get("/predictions").json() == []
        assert client.get("/files").json() == []


@pytest.mark.parametrize("state", [None, "file"])
def test_finish_ends_every_unfinished_prediction_at_one_instant(
    start_devserver: Any, tmp_path: Any, state: str | None
) -> None:
    """Benchmarks hold waits open on hour-long predictions and end them all at once."""
    extra = ("--state", str(tmp_path / "dev.sqlite")) if state else ()
    with start_devserver("--processing-time", "3600", *extra) as server, server.client() as client:
        file_id = upload(client, PDF)["id"]
        ids = [_generate(client, file_id, batch=True).json()["id"] for _ in range(3)]
        assert {client.get(f"/predictions/{i}").json()["status"] for i in ids} != {"completed"}
        answer = client.post("/_dev/finish", json={"after": 0}).json()
        assert answer["finished"] == 3
        assert {client.get(f"/predictions/{i}").json()["status"] for i in ids} == {"completed"}
        # Nothing is left to finish; finished predictions keep their completion time.
        assert client.post("/_dev/finish").json()["finished"] == 0
        assert client.post("/_dev/finish", json={"after": -1}).status_code == 422
