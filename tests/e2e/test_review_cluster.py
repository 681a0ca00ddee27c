"""The invoice night's review through real Airflow: pause at review, answer as the UI does, finish.

The nightly example DAG, as shipped, runs on a real api-server, scheduler, dag-processor and
triggerer (SQLite, LocalExecutor, 127.0.0.1) with the ``review`` param on, over a generated night
of four e-invoices, two of them bad (``tests/review_night.py``). The run stops at the two review
tasks; the test reads what the reviewer is shown and answers through the REST API with a JWT from
the login route, as the UI does: one invoice corrected, the other rejected. The dev server loses
the answer to the first feedback sent (the feedback is stored, the connection dropped), so the
feedback task fails after sending and is retried. Asserted: the run succeeds, ``invoices.jsonl``
holds the corrected value and who changed what, and the dev server holds exactly one feedback per
correction. Only what holds whether or not Airflow's defer race strikes the extraction is
asserted (final states, files, the server's records).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import LocalAirflow
from tests.review_night import (
    DAG_ID,
    Night,
    RestApi,
    example_airflow,
    make_night,
    reviews_by_file,
    run_state,
    start_night,
)

SECRET = "sk-e2e-review-52d1"
REVIEWER = "ana.reviewer"
PASSWORD = "review-night-pw"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture
def airflow(tmp_path: Path) -> Iterator[LocalAirflow]:
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({REVIEWER: PASSWORD}))
    extra = {
        # A named user who logs in: the review records who answered.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{REVIEWER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
    }
    with example_airflow(tmp_path, extra) as instance:
        yield instance


def test_a_night_paused_at_review_completes_with_the_corrections_and_one_feedback_each(
    airflow: LocalAirflow, start_devserver: Any, tmp_path: Path
) -> None:
    night: Night = make_night(tmp_path)
    bad, unnumbered = night.bad_total, night.no_number
    assert night.right_total != float(bad.total_amount)

    with start_devserver("--port", "0", "--processing-time", "1", "--api-key", SECRET) as server:
        api = RestApi(airflow.port)
        run_id = start_night(airflow, api, night, server.base_url, SECRET, login=(REVIEWER, PASSWORD))
        by_file = reviews_by_file(api, run_id, night)

        # What the reviewer is shown: the file, the reasons, the extracted values pre-filled.
        for name, review in by_file.items():
            assert name in review["body"] and review["options"] == ["Save", "Reject"], review
        wrong = by_file[bad.path.name]
        assert "total_amount" in wrong["body"] and "[rule]" in wrong["body"], wrong["body"]
        assert wrong["params"]["total_amount"]["value"] == float(bad.total_amount), wrong["params"]
        assert wrong["params"]["invoice_id"]["value"] == bad.invoice_id
        assert by_file[unnumbered.path.name]["params"]["invoice_id"]["value"] is None

        # The first feedback reaches the server but its answer is lost: the task fails after
        # sending, and its retry must not send it again.
        server.faults(drop_after_create=1)
        values = {name: spec["value"] for name, spec in wrong["params"].items()}
        corrected_values = {**values, "total_amount": night.right_total, "notes": "total is subtotal + VAT"}
        api.answer(run_id, wrong["task_instance"]["map_index"], "Save", corrected_values)
        other = by_file[unnumbered.path.name]
        rejected_values = {
            **{name: spec["value"] for name, spec in other["params"].items()},
            "notes": "no invoice number: ask the issuer",
        }
        api.answer(run_id, other["task_instance"]["map_index"], "Reject", rejected_values)

        assert run_state(airflow, run_id) == "success", airflow.logs()
        ((tries, feedback_state),) = airflow.query(
            "select try_number, state from task_instance where dag_id=? and run_id=? and task_id='feedback'",
            DAG_ID,
            run_id,
        )
        assert feedback_state == "success" and tries >= 2, (tries, feedback_state, airflow.logs())
        assert server.stats()["faults_injected"]["drop_after_create"] == 1, server.stats()

        rows = night.rows()
        corrected = rows[bad.path.name]
        assert corrected["response"]["total_amount"] == night.right_total
        review = corrected["review"]
        assert (review["decision"], review["reviewer"]) == ("corrected", REVIEWER), review
        assert review["changes"] == [
            {"field": "total_amount", "from": float(bad.total_amount), "to": night.right_total}
        ]
        rejected = rows[unnumbered.path.name]["review"]
        assert (rejected["decision"], rejected["reviewer"]) == ("rejected", REVIEWER), rejected
        assert all("review" not in row for name, row in rows.items() if name not in by_file)

        # Exactly one feedback per correction on the server, across the retry.
        with server.client() as http:
            sent = {
                name: http.get(f"/feedback/{rows[name]['prediction_id']}").json()["items"]
                for name in (bad.path.name, unnumbered.path.name)
            }
        assert len(sent[bad.path.name]) == 1, sent
        assert sent[bad.path.name][0]["response"]["total_amount"] == night.right_total
        assert len(sent[unnumbered.path.name]) == 1, sent
