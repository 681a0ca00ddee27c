"""The CLI process: ready line, clean stop on signals, SQLite state across a restart."""

from __future__ import annotations

import hashlib
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from devserver_helpers import make_pdf, upload


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_with_exit_code_0(sig: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_vlm.devserver", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert re.fullmatch(r"VLM dev server ready: http://127\.0\.0\.1:\d+/v1\n", line), line
    base_url = line.split(": ", 1)[1].strip()
    assert httpx.get(base_url + "/health", headers={"Authorization": "Bearer dev-key"}).status_code == 200
    process.send_signal(sig)
    rest, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert rest == ""  # the ready line is the only output


def test_several_api_keys(start_devserver: Any) -> None:
    with start_devserver("--api-key", "a", "--api-key", "b") as server:
        for key, status in (("a", 200), ("b", 200), ("c", 401)):
            server.api_key = key
            with server.client() as client:
                assert client.get("/health").status_code == status


def test_sqlite_state_survives_a_restart(tmp_path: Path, start_devserver: Any) -> None:
    state = tmp_path / "dev.sqlite"
    content = make_pdf(["kept across restarts"])
    with (
        start_devserver("--state", str(state), "--processing-time", "1") as server,
        server.client() as client,
    ):
        file_record = upload(client, content)
        batch = client.post(
            "/document/generate",
            json={"file_id": file_record["id"], "domain": "document.markdown", "batch": True},
            headers={"Idempotency-Key": "restart-key"},
        ).json()
        assert batch["status"] in ("enqueued", "pending", "running")  # the engine's time counts
    with (
        start_devserver("--state", str(state), "--processing-time", "1") as server,
        server.client() as client,
    ):
        assert client.get(f"/files/{file_record['id']}").json() == file_record
        assert client.get("/files/hash/" + file_record_md5(content)).json()["id"] == file_record["id"]
        # The lifecycle is computed from timestamps, so it went on while the server was down.
        deadline = time.monotonic() + 30
        while (after := client.get(f"/predictions/{batch['id']}").json())["status"] != "completed":
            assert after["status"] in ("enqueued", "pending", "running") and time.monotonic() < deadline, (
                after
            )
            time.sleep(0.05)
        assert "kept across restarts" in after["response"]["pages"][0]["content"]
        assert [p["id"] for p in client.get("/predictions").json()] == [batch["id"]]
        again = client.post(
            "/document/generate",
            json={"file_id": file_record["id"], "domain": "document.markdown", "batch": True},
            headers={"Idempotency-Key": "restart-key"},
        )
        assert again.json()["id"] == batch["id"]


def file_record_md5(content: bytes) -> str:
    return hashlib.md5(content).hexdigest()
