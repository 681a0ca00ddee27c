"""The whole lifecycle: ``paused``, ``Retry-After`` as an HTTP date, ``callback_url`` deliveries."""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from devserver_helpers import make_pdf, upload


def _wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_pause_fault_makes_new_predictions_report_paused_then_go_on(dev: Any, api: httpx.Client) -> None:
    file_id = upload(api, make_pdf(["Invoice 7"]))["id"]
    dev.faults(pause=1.5, processing_time=0.2)
    created = api.post(
        "/document/generate", json={"file_id": file_id, "domain": "document.invoice", "batch": True}
    ).json()
    assert created["status"] == "paused"
    assert api.get(f"/predictions/{created['id']}").json()["status"] == "paused"
    dev.faults(pause=0)  # predictions made from now on are not paused; this one stays as it was
    seen: list[str] = []

    def finished() -> bool:
        status = api.get(f"/predictions/{created['id']}").json()["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        return status == "completed"

    _wait_for(finished)
    assert seen[0] == "paused" and seen[-1] == "completed"
    assert dev.faults()["pause"] == 0


def test_rate_limit_can_send_retry_after_as_an_http_date(dev: Any, api: httpx.Client) -> None:
    dev.faults(
        rules=[{"path": "/health", "status": 429, "count": 1, "retry_after": 2}], retry_after_http_date=True
    )
    before = time.time()
    answer = api.get("/health")
    assert answer.status_code == 429
    when = email.utils.parsedate_to_datetime(answer.headers["retry-after"]).timestamp()
    assert before + 2 <= when + 1 and when <= time.time() + 3  # whole seconds, rounded up
    dev.faults(
        rules=[{"path": "/health", "status": 429, "count": 1, "retry_after": 2}], retry_after_http_date=False
    )
    assert api.get("/health").headers["retry-after"] == "2"


class _Listener:
    """A webhook receiver on 127.0.0.1 that can refuse its first N deliveries."""

    def __init__(self, refuse_first: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        self.refuse_first = refuse_first
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                listener.attempts += 1
                if listener.attempts <= listener.refuse_first:
                    self.send_response(503)
                else:
                    listener.received.append(json.loads(body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[_Listener]:
    hook = _Listener()
    yield hook
    hook.close()


def test_callback_receives_the_finished_record_once_per_prediction(
    dev: Any, api: httpx.Client, listener: _Listener
) -> None:
    dev.faults(processing_time=0.3)
    file_id = upload(api, make_pdf(["Invoice 8"]))["id"]
    body = {"file_id": file_id, "domain": "document.invoice", "batch": True, "callback_url": listener.url}
    first = api.post("/document/generate", json=body, headers={"Idempotency-Key": "cb-1"}).json()
    # A replay of the same request is the same prediction: no second delivery.
    assert (
        api.post("/document/generate", json=body, headers={"Idempotency-Key": "cb-1"}).json()["id"]
        == first["id"]
    )
    second = api.post("/document/generate", json=body).json()
    _wait_for(lambda: dev.stats()["callbacks"]["delivered"] == 2)
    assert sorted(r["id"] for r in listener.received) == sorted([first["id"], second["id"]])
    for record in listener.received:
        assert record["status"] == "completed" and record["completed_at"]
        assert record == api.get(f"/predictions/{record['id']}").json()
    assert dev.stats()["callbacks"] == {
        "scheduled": 2,
        "delivered": 2,
        "failed_attempts": 0,
        "given_up": 0,
        "pending": 0,
    }


def test_a_failed_callback_is_tried_again(dev: Any, api: httpx.Client) -> None:
    hook = _Listener(refuse_first=2)
    try:
        dev.faults(processing_time=0)
        file_id = upload(api, make_pdf(["Invoice 9"]))["id"]
        body = {"file_id": file_id, "domain": "document.invoice", "callback_url": hook.url}
        created = api.post("/document/generate", json=body).json()
        _wait_for(lambda: dev.stats()["callbacks"]["delivered"] == 1)
        assert hook.attempts == 3 and [r["id"] for r in hook.received] == [created["id"]]
        assert dev.stats()["callbacks"]["failed_attempts"] == 2
    finally:
        hook.close()


def test_a_callback_url_that_is_not_http_is_refused(dev: Any, api: httpx.Client) -> None:
    file_id = upload(api, make_pdf(["Invoice 10"]))["id"]
    body = {"file_id": file_id, "domain": "document.invoice", "callback_url": "ftp://example.com/hook"}
    answer = api.post("/document/generate", json=body)
    assert answer.status_code == 400 and "callback_url" in answer.json()["error"]["message"]
    assert dev.stats()["predictions_created"] == 0
