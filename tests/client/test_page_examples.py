"""Every Python example of the SDK's predictions page runs, as written, on the hook's client.

The page (``../shared/seed/predictions-api.md``, beside the project) is read at test time; without
it these tests skip, and ``test_docs_client.py`` still runs the same calls from the project's own
``docs/client.md``. Each example runs with ``client`` made by ``VlmHook(...).get_client()`` against
the dev server, in a folder where the file names the page uses (``document.pdf``, ``image.jpg``
...) are the suite's generated invoices (``tests/invoices.py``). The only text
changed is what the page leaves to the reader: ``"pred_abc123"`` becomes a real prediction id,
and the autocast example reads ``invoice_id`` (the page's own note says the schema names it so).
``time`` and ``Path`` are the names the page uses without importing them; the ``time`` given to
the examples sleeps at most 0.1 s a call, so the page's 5 s polling loops do not slow the suite
(each loop still waits on the real status).
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import re
import time
import types
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Optional

import pytest
from pydantic import BaseModel

from airflow_provider_vlm.client import CreditUsage, Prediction, PredictionStatus, VlmClient
from airflow_provider_vlm.hooks.vlm import VlmHook
from tests.conftest import ROOT
from tests.invoices import InvoiceSet

PAGE = ROOT.parent / "shared" / "seed" / "predictions-api.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
STATUSES = {s.value for s in PredictionStatus}
DATETIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


def page_blocks() -> dict[str, str]:
    """The page's Python examples by the heading above each (``Image predictions`` ...)."""
    text = PAGE.read_text()
    blocks: dict[str, str] = {}
    for match in BLOCK.finditer(text):
        heading = re.findall(r"^#+ (.+)$", text[: match.start()], re.M)[-1]
        key, n = heading, 2
        while key in blocks:
            key, n = f"{heading} {n}", n + 1
        blocks[key] = match.group(1)
    return blocks


BLOCKS = page_blocks() if PAGE.exists() else {}
pytestmark = [
    pytest.mark.skipif(
        not PAGE.exists(),
        reason="the SDK's predictions page is not beside the project (../shared/seed/predictions-api.md); "
        "test_docs_client.py covers the same calls",
    ),
    # The examples wait on the real status but none is about how long processing takes.
    pytest.mark.processing_time(0.1),
]


#: The headings of the examples the tests below run (the two class blocks are checked apart).
EXPECTED = {
    "Get a prediction",
    "List predictions",
    "Wait for completion",
    "Retrieving predictions",
    "Listing predictions",
    "Waiting for completion",
    "Image predictions",
    "Document, audio, and video predictions",
    "Auto-casting responses",
    "Process and wait",
    "Batch processing",
    "Error handling",
    "Efficient polling",
    "Using appropriate timeouts",
    "Progress reporting with tqdm",
}


def test_the_page_has_the_examples_this_test_knows() -> None:
    """A new example on the page must be added below, not silently skipped."""
    assert set(BLOCKS) == EXPECTED | {"Response structure", "Response structure 2"}


@pytest.fixture
def client(dev, monkeypatch) -> Iterator[VlmClient]:
    monkeypatch.setenv(
        "AIRFLOW_CONN_VLM_PAGE",
        json.dumps({"conn_type": "vlm", "host": dev.base_url, "password": dev.api_key}),
    )
    hook = VlmHook("vlm_page")
    yield hook.get_client()
    hook.close()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch, invoice_set: InvoiceSet) -> Path:
    """The page's file names, each the generated e-invoice (its image for ``image.jpg``)."""
    from PIL import Image

    for name in ("document.pdf", "invoice.pdf", "large-document.pdf", "large_file.pdf"):
        (tmp_path / name).symlink_to(invoice_set.primary.path)
    with Image.open(invoice_set.image) as png:
        png.convert("RGB").save(tmp_path / "image.jpg", format="JPEG")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def prediction_id(client: VlmClient, workdir: Path) -> str:
    """A completed prediction of an invoice: the page's ``"pred_abc123"``."""
    return client.document.generate(file="document.pdf", domain="document.invoice").id


def short_sleep_time() -> types.SimpleNamespace:
    return types.SimpleNamespace(time=time.time, sleep=lambda seconds: time.sleep(min(seconds, 0.1)))


def run_example(
    name: str, client: VlmClient, replace: dict[str, str] | None = None, **names: Any
) -> tuple[str, dict[str, Any]]:
    """Run one example; returns what it printed and its namespace afterwards."""
    source = BLOCKS[name]
    for old, new in (replace or {}).items():
        assert old in source, f"the page's example {name!r} no longer says {old!r}"
        source = source.replace(old, new)
    if "prediction_id" in names:
        source = source.replace('"pred_abc123"', repr(names["prediction_id"]))
    namespace: dict[str, Any] = {
        "__builtins__": builtins,
        "client": client,
        "Path": Path,
        "time": short_sleep_time(),
        **names,
    }
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, f"predictions-api.md: {name}", "exec", dont_inherit=True), namespace)
    return out.getvalue(), namespace


def lines(output: str) -> list[str]:
    return output.strip().splitlines()


# --- the examples, one test each, with what the page says they print -------------------------


def test_get_a_prediction(client, prediction_id) -> None:
    out, _ = run_example("Get a prediction", client, prediction_id=prediction_id)
    assert out == "Status: completed\n"


def test_list_predictions(client, prediction_id) -> None:
    out, _ = run_example("List predictions", client)
    assert 1 <= len(lines(out)) <= 10
    assert lines(out)[0] == f"{prediction_id}: completed (document)"
    for line in lines(out):
        _pid, status, media = re.fullmatch(r"(\S+): (\w+) \((\w+)\)", line).groups()  # type: ignore[union-attr]
        assert status in STATUSES and media in ("image", "document", "audio", "video")


def test_wait_for_completion(client, prediction_id) -> None:
    out, _ = run_example("Wait for completion", client, prediction_id=prediction_id)
    assert re.fullmatch(rf"Completed at: {DATETIME}\.\d+\+00:00\n", out)


def test_retrieving_predictions(client, prediction_id) -> None:
    out, _ = run_example("Retrieving predictions", client, prediction_id=prediction_id)
    got = lines(out)
    assert got[:2] == [f"ID: {prediction_id}", "Status: completed"]
    assert re.fullmatch(rf"Created: {DATETIME}.*", got[2])
    assert got[3] == "Type: document"
    assert got[4].startswith("Result: {") and "'invoice_id': '471102'" in got[4]


def test_listing_predictions(client, prediction_id) -> None:
    out, namespace = run_example("Listing predictions", client)
    assert lines(out)[0] == f"ID: {prediction_id}, Status: completed"
    assert len(namespace["predictions"]) == len(lines(out)) <= 10


def test_waiting_for_completion(client, prediction_id) -> None:
    out, _ = run_example("Waiting for completion", client, prediction_id=prediction_id)
    assert out.startswith("Success! Result: {") and "'total_amount': 529.87" in out


def test_image_predictions(client, workdir) -> None:
    out, namespace = run_example("Image predictions", client)
    assert out == ""
    assert namespace["prediction"].status == "completed"
    assert namespace["prediction"].type == "image"
    assert namespace["schema"].status == "completed"
    assert "json_schema" in namespace["schema"].response


def test_document_audio_and_video_predictions(client, workdir) -> None:
    out, namespace = run_example("Document, audio, and video predictions", client)
    assert out == ""
    assert namespace["prediction"].type == "audio"
    assert namespace["prediction"].status == "completed"


def test_auto_casting_responses(client, workdir) -> None:
    # The page's note: the platform's schema names the number ``invoice_id``.
    replace = {"invoice.invoice_number}": "invoice.invoice_id}"}
    out, namespace = run_example("Auto-casting responses", client, replace)
    assert out == "Invoice number: 471102\nTotal: 529.87\n"
    invoice = namespace["invoice"]
    assert isinstance(invoice, BaseModel)
    assert invoice.as_dict()["invoice_id"] == "471102"  # the dict form stays one call away


def test_process_and_wait(client, workdir) -> None:
    out, _ = run_example("Process and wait", client)
    assert out.startswith("Form data: ") and "'total_amount': 529.87" in out


def test_batch_processing(client, workdir, invoice_set: InvoiceSet) -> None:
    document_files = [invoice.path for invoice in invoice_set.einvoices[:4]]
    out, namespace = run_example("Batch processing", client, document_files=document_files)
    got = lines(out)
    assert got[0] == "Started 4 predictions"
    assert got[-2:] == ["Progress: 4/4 complete", "All predictions complete!"]
    assert all(re.fullmatch(r"Progress: [0-4]/4 complete", line) for line in got[1:-1])
    assert len(set(namespace["prediction_ids"])) == 4


def test_error_handling(client, workdir) -> None:
    out, _ = run_example("Error handling", client)
    assert out == "Processing successful!\n"


def test_error_handling_invalid_parameters(client, workdir) -> None:
    """The page's ``except ValueError`` branch: a bad argument is a ``ValueError``."""
    (workdir / "document.pdf").unlink()
    out, _ = run_example("Error handling", client)
    assert out.startswith("Invalid parameters: file not found: document.pdf")


def test_efficient_polling(client, prediction_id) -> None:
    out, namespace = run_example("Efficient polling", client)
    assert out == ""
    assert namespace["wait_with_backoff"](prediction_id).status == "completed"


def test_using_appropriate_timeouts(client, prediction_id) -> None:
    out, namespace = run_example("Using appropriate timeouts", client, prediction_id=prediction_id)
    assert out == "" and namespace["prediction"].status == "completed"


def test_progress_reporting_with_tqdm(client, workdir, capsys) -> None:
    pytest.importorskip("tqdm")
    out, namespace = run_example("Progress reporting with tqdm", client)
    assert out == ""
    assert namespace["prediction"].status == "completed"
    assert "Processing document" in capsys.readouterr().err


def test_response_structure_matches_the_page() -> None:
    """The page's ``PredictionResponse`` and ``CreditUsage`` fields are the client's."""
    namespace: dict[str, Any] = {"BaseModel": BaseModel, "Literal": Literal, "Optional": Optional}
    namespace.update({"datetime": datetime, "Any": Any})
    for name in ("Response structure 2", "Response structure"):  # CreditUsage first: used by the other
        exec(compile(BLOCKS[name], name, "exec", dont_inherit=True), namespace)
    assert set(namespace["PredictionResponse"].model_fields) <= set(Prediction.model_fields)
    assert set(namespace["CreditUsage"].model_fields) <= set(CreditUsage.model_fields)
    status = namespace["PredictionResponse"].model_fields["status"].annotation
    assert set(status.__args__) == STATUSES
