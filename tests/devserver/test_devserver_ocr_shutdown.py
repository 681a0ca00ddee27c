"""Stopping the dev server while its OCR workers read a batch of pages.

Uvicorn's graceful shutdown waits for open requests, and a create that reads a scan holds its
request until every page is read. Told to stop, the server stops its OCR workers at once: the
create in flight ends with a ``failed`` prediction that says the server is stopping, instead of
holding the shutdown until its pages are read.
"""

from __future__ import annotations

import base64
import shutil
import signal
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from devserver_helpers import make_pdf

from tests.conftest import DevServerHandle
from vlm_demo.scans import ScanStyle, scan_pdf

pytestmark = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="Tesseract is not installed (make tesseract)"
)

PAGE = "Acme Supplies Ltd\n\nINVOICE\nInvoice No.: INV-9-1\nInvoice Date: 03/05/2013\n\nTotal Due $12.50"
#: Pages of one create: one worker reads them one after another, far longer than the signal takes.
PAGES = 12


def test_sigterm_while_ocr_runs_stops_the_workers_and_fails_the_scan(
    start_devserver: Callable[..., AbstractContextManager[DevServerHandle]], tmp_path: Path
) -> None:
    (png,) = scan_pdf(make_pdf([PAGE]), tmp_path / "page.png", ScanStyle(), seed=1)
    page = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
    body = {"domain": "document.invoice", "images": [page] * PAGES}
    with start_devserver("--processing-time", "0", "--api-key", "k", "--ocr-workers", "1") as server:
        outcome: list[httpx.Response | Exception] = []
        done = threading.Event()

        def create() -> None:
            try:
                with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=300) as client:
                    outcome.append(client.post("/image/generate", json=body))
            except httpx.HTTPError as exc:
                outcome.append(exc)
            done.set()

        threading.Thread(target=create, daemon=True).start()
        _wait_for_tesseract(server.process.pid, done)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=120) == 0
        done.wait(60)

    assert outcome and isinstance(outcome[0], httpx.Response), outcome
    record = outcome[0].json()
    assert outcome[0].status_code == 200, record
    assert record["status"] == "failed", record
    assert "stopping" in str(record.get("message")), record


def _wait_for_tesseract(server_pid: int, done: threading.Event) -> None:
    """Until a Tesseract process runs under the server (its OCR has started)."""
    while not done.is_set():
        if any(_descends(pid, server_pid) for pid in _tesseracts()):
            return
        done.wait(0.01)
    pytest.fail("the pages were read before any Tesseract process was seen")


def _tesseracts() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "tesseract":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
    return False
