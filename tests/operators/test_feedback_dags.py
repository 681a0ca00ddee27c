"""Through real Airflow: one feedback per correction reaches the dev server, across a retry and a Clear.

Each test makes three real predictions, runs ``vlm_feedback`` (``tests/dags/vlm_feedback_dags.py``)
with three corrections (corrected, rejected, accepted), and reads back with
``GET /v1/feedback/{id}`` what the server kept: exactly one feedback per correction. The dev
server's stats prove how: ``replayed == 0`` means no try re-sent a correction and leaned on
``Idempotency-Key``; the record or the marker found it. The official SDK's ``client.feedback.get``
reads what the operator sent (``VLM_SDK_PYTHON``, as ``tests/devserver/test_sdk_conformance.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest
from vlm_dag_support import INVOICE, RunDag

from airflow_provider_vlm.client import VlmClient
from airflow_provider_vlm.invoices import Correction
from airflow_provider_vlm.operators.feedback import marker
from tests.devserver.test_sdk_conformance import _sdk_python

pytestmark = pytest.mark.timeout(400)
DAG_ID = "vlm_feedback"
TASK = "send_feedback"


@pytest.fixture
def predictions(dev: Any) -> list[dict[str, Any]]:
    """Three completed predictions of the generated Factur-X invoice (id, response)."""
    dev.faults(processing_time=0)
    with VlmClient(dev.api_key, dev.base_url) as client:
        made = [client.document.generate(file=INVOICE, domain="document.invoice") for _ in range(3)]
    assert all(p.status.value == "completed" for p in made)
    return [{"id": p.id, "response": p.response} for p in made]


def corrections_for(predictions: list[dict[str, Any]]) -> list[Correction]:
    first, second, third = predictions
    return [
        Correction(
            f"{INVOICE}#1", first["id"], "corrected", {"total_amount": 999.5}, "anna", "total misread"
        ),
        Correction(f"{INVOICE}#2", second["id"], "rejected", {}, "anna", "duplicate of #1"),
        Correction(f"{INVOICE}#3", third["id"], "accepted", {}, "ben"),
    ]


def kept(dev: Any, prediction_id: str) -> list[dict[str, Any]]:
    """What the server holds for one prediction, read back over HTTP."""
    with dev.client() as api:
        response = api.get(f"/feedback/{prediction_id}", params={"limit": 100})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def run(run_dag: RunDag, corrections: list[Correction], **kwargs: Any) -> Any:
    return run_dag(DAG_ID, conf={"corrections": [c.to_dict() for c in corrections]}, timeout=240, **kwargs)


def assert_one_feedback_each(
    dev: Any, predictions: list[dict[str, Any]], corrections: list[Correction]
) -> None:
    for prediction, correction in zip(predictions, corrections, strict=True):
        items = kept(dev, prediction["id"])
        assert len(items) == 1, (correction.decision, items)
        assert items[0]["notes"].splitlines()[-1] == marker(correction.key)
    stats = dev.stats()["feedback"]
    assert stats == {"created": 3, "replayed": 0}, stats


#: Run by the official SDK's interpreter: what ``client.feedback.get`` reads for each prediction.
SDK_READ = """
import json, sys
from vlmrun.client import VLMRun
client = VLMRun(api_key=sys.argv[2], base_url=sys.argv[1], max_retries=2)
read = {p: [{"id": i.id, "notes": i.notes, "response": i.response} for i in client.feedback.get(p).items]
        for p in sys.argv[3:]}
print(json.dumps(read, default=str))
"""


def read_with_the_sdk(dev: Any, prediction_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    done = subprocess.run(
        [_sdk_python(), "-c", SDK_READ, dev.base_url, dev.api_key, *prediction_ids],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "VLMRUN_BASE_URL": dev.base_url},
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[dict[str, Any]]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def statuses(result: Any) -> list[str]:
    return [entry["status"] for entry in result.xcom(TASK)]


def test_one_feedback_per_correction_and_none_again_after_a_clear_or_in_another_run(
    run_dag: RunDag, dev: Any, predictions: list[dict[str, Any]]
) -> None:
    corrections = corrections_for(predictions)
    result = run(run_dag, corrections, clear_rerun=True)
    assert result.state == "success", result.tail(120)
    assert result.clear_number == 1
    # The Clear ran the task again: everything was found sent, nothing went out twice.
    assert statuses(result) == ["already_sent"] * 3, result.xcom(TASK)
    assert [e["key"] for e in result.xcom(TASK)] == [c.key for c in corrections]
    assert_one_feedback_each(dev, predictions, corrections)
    # Another run (a new task identity: its record is empty) with the same corrections, as when
    # the next night reads the same corrections file: each is found on the server by its marker.
    again = run(run_dag, corrections)
    assert again.state == "success", again.tail(120)
    assert statuses(again) == ["already_sent"] * 3, again.xcom(TASK)
    assert [e["feedback_id"] for e in again.xcom(TASK)] == [e["feedback_id"] for e in result.xcom(TASK)]
    assert again.output.count("the platform already holds it") == 3, again.tail(120)
    assert_one_feedback_each(dev, predictions, corrections)

    corrected, rejected, accepted = (kept(dev, p["id"])[0] for p in predictions)
    # The whole corrected document, the corrected field in place.
    assert corrected["response"] == {**predictions[0]["response"], "total_amount": 999.5}
    assert corrected["notes"].splitlines()[0] == "corrected: total misread"
    assert rejected["response"] is None and rejected["notes"].startswith("rejected: duplicate of #1\n")
    assert accepted["response"] is None and accepted["notes"].startswith("accepted\n")
    # The official SDK, unmodified, reads what the operator sent.
    by_sdk = read_with_the_sdk(dev, [p["id"] for p in predictions])
    for prediction, sent in zip(predictions, (corrected, rejected, accepted), strict=True):
        assert by_sdk[prediction["id"]] == [
            {"id": sent["id"], "notes": sent["notes"], "response": sent["response"]}
        ]
    # The reviewer stays in Airflow; the API key is nowhere in the result.
    assert "anna" not in json.dumps([corrected, rejected, accepted])
    assert dev.api_key not in json.dumps(result.xcoms) and dev.api_key not in result.output


def test_a_retry_after_part_was_sent_sends_no_duplicate(
    run_dag: RunDag, dev: Any, predictions: list[dict[str, Any]]
) -> None:
    corrections = corrections_for(predictions)
    # The third correction's look-up fails for every attempt of the first try (1 + max_retries 3).
    dev.faults(
        rules=[{"method": "GET", "path": f"/feedback/{predictions[2]['id']}", "status": 503, "count": 4}]
    )
    result = run(run_dag, corrections)
    assert result.state == "success", result.tail(120)
    assert result.task(TASK)["try_number"] == 2, result.task(TASK)
    assert "the task's retries take over" in result.output
    # Try 2 found the first two in its record (without asking the server) and sent only the third.
    assert statuses(result) == ["already_sent", "already_sent", "sent"], result.xcom(TASK)
    assert "the platform already holds it" not in result.output, result.tail(40)
    assert_one_feedback_each(dev, predictions, corrections)


def test_an_answer_lost_after_the_submit_is_found_by_its_marker(
    run_dag: RunDag, dev: Any, predictions: list[dict[str, Any]]
) -> None:
    corrections = corrections_for(predictions)
    # The server keeps the first feedback and drops the connection before answering: the try
    # ends with an intent and no feedback id, as if the worker died between submit and record.
    dev.faults(drop_after_create=1)
    result = run(run_dag, corrections)
    assert result.state == "success", result.tail(120)
    assert result.task(TASK)["try_number"] == 2, result.task(TASK)
    assert statuses(result) == ["already_sent", "sent", "sent"], result.xcom(TASK)
    assert "the platform already holds it" in result.output
    # replayed == 0: the marker found it; the retry did not resend and lean on Idempotency-Key.
    assert_one_feedback_each(dev, predictions, corrections)


def test_an_unknown_prediction_is_named_and_not_retried(
    run_dag: RunDag, dev: Any, predictions: list[dict[str, Any]]
) -> None:
    good = corrections_for(predictions)[1]
    stray = Correction("file:///inbox/ghost.pdf", "no-such-prediction", "rejected", {}, "anna", "who?")
    result = run(run_dag, [stray, good])
    assert result.state == "failed", result.tail(120)
    assert result.task(TASK)["try_number"] == 1, result.task(TASK)  # retries=1, not spent
    assert "no-such-prediction (file:///inbox/ghost.pdf)" in result.output
    # The other correction was sent all the same, once.
    assert len(kept(dev, predictions[1]["id"])) == 1
    assert dev.api_key not in result.output
