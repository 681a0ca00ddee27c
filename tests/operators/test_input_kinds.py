"""GenerateOperator's other input kinds through real Airflow (``dag.test()``) and the real dev server.

Images from a local PNG, an http(s) URL (which the dev server never fetches), an
``ObjectStoragePath`` (``file://``), a URI string on fsspec's in-memory filesystem, and the id
of a file uploaded by an upstream task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from vlm_dag_support import INVOICE, RunDag, runner

pytestmark = pytest.mark.timeout(240)

RECORD_KEYS = {"id", "status", "type", "domain", "created_at", "completed_at", "response", "usage"}
INVOICE_ID = "471102"  # the id in the generated invoice's embedded XML


def _ok(result: Any) -> dict[str, Any]:
    assert result.returncode == 0, result.tail()
    assert result.state == "success", result.tail()
    record = result.xcom("extract")
    assert isinstance(record, dict) and set(record) == RECORD_KEYS, record
    assert record["status"] == "completed"
    assert result.xcom("extract", "prediction_id") == record["id"]
    assert "Pausing task as DEFERRED" in result.output
    return record


@pytest.fixture
def png(tmp_path: Path) -> Path:
    path = tmp_path / "receipt.png"
    Image.new("RGB", (64, 48), (200, 210, 220)).save(path, format="PNG")
    return path


def test_image_from_a_local_png(run_dag: RunDag, dev: Any, png: Path) -> None:
    result = run_dag("vlm_input_image", env={"VLM_TEST_IMAGE": str(png)})
    record = _ok(result)
    assert record["type"] == "image" and record["domain"] == "image.caption"
    assert record["usage"]["elements_processed"] == 1 and record["usage"]["element_type"] == "image"
    # The image went inline as a data URL: nothing was uploaded.
    requests = dev.stats()["requests"]
    assert requests["POST /image/generate"] == 1
    assert "POST /files" not in requests
    assert dev.stats()["predictions_created"] == 1


def test_url_is_passed_to_the_server_not_fetched(run_dag: RunDag, dev: Any) -> None:
    result = run_dag("vlm_input_url")
    record = _ok(result)
    assert record["domain"] == "document.invoice"
    # The dev server never fetches remote content; its placeholder result says so.
    marker = record["response"]["_devserver"]
    assert marker["engine"] == "generic"
    assert "not fetched" in marker["note"]
    requests = dev.stats()["requests"]
    assert "POST /files" not in requests and "GET /files/hash/{md5}" not in requests


def test_object_storage_path_file_uri(run_dag: RunDag, dev: Any) -> None:
    record = _ok(run_dag("vlm_input_object_storage"))
    assert record["response"]["invoice_id"] == INVOICE_ID
    assert dev.stats()["predictions_created"] == 1


def test_memory_uri_from_an_upstream_task(run_dag: RunDag, dev: Any) -> None:
    result = run_dag("vlm_input_memory_uri")
    record = _ok(result)
    assert result.xcom("stage") == "memory://vlm-test/incoming/invoice.pdf"
    assert record["response"]["invoice_id"] == INVOICE_ID
    assert dev.stats()["predictions_created"] == 1


def test_file_id_uploaded_upstream(run_dag: RunDag, dev: Any) -> None:
    result = run_dag("vlm_input_file_id")
    record = _ok(result)
    file_id = result.xcom("upload")
    assert isinstance(file_id, str) and file_id
    assert record["response"]["invoice_id"] == INVOICE_ID
    requests = dev.stats()["requests"]
    # Only the upload task looked the content up; the operator used the id as given.
    assert requests["GET /files/hash/{md5}"] == 1
    assert requests.get("POST /files", 0) <= 1
    assert requests["POST /document/generate"] == 1


def test_input_errors_fail_at_once_naming_the_input(
    start_devserver: Any, airflow_home: Path, bad_file: Path, tmp_path: Path
) -> None:
    """A 413 on upload, a missing path, an unknown file id: failed on try 1, nothing billed, no warning.

    The invoice is larger than this server's upload limit. No try made a create call that could
    have lost its answer, so the "answer was lost ... may have billed a duplicate" warning would be
    false; it must not appear anywhere.
    """
    missing = tmp_path / "no-such-folder" / "march.pdf"
    with start_devserver(
        "--port", "0", "--processing-time", "0", "--api-key", "k", "--max-upload-bytes", "1000"
    ) as server:
        run = runner(airflow_home, server.base_url, "k", bad_file)
        result = run("vlm_input_errors", env={"VLM_TEST_MISSING_FILE": str(missing)})
        stats = server.stats()
    for task_id in ("too_large", "missing_path", "unknown_file_id", "schema_too_large"):
        ti = result.task(task_id)
        assert ti["state"] == "failed" and ti["try_number"] == 1, (task_id, result.tail())
    assert "InvalidRequestError" in result.output and "HTTP 413" in result.output
    assert f"upload of {INVOICE} refused" in result.output  # the error names the file
    assert f"file not found: {missing}" in result.output
    assert "NotFoundError" in result.output and "file-not-on-this-server" in result.output
    assert "answer was lost" not in result.output and "billed a duplicate" not in result.output
    assert stats["predictions_created"] == 0
    # No intent was written for the refused uploads or the missing file.
    keys = {(r["task_id"], r["key"]) for r in result.task_state}
    assert not {("too_large", "vlm_submission"), ("missing_path", "vlm_submission")} & keys
