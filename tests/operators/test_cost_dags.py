"""Cost and privacy through real Airflow (``dag.test()``) against the dev server.

The budget: a night of 30 generated one-page invoices with ``max_credits=10`` bills at most 10
credits (read from the server: each prediction's ``usage.credits_used`` and the server's own
total) and fails naming the budget; at the rate card's 2 credits per page that is 5 invoices at
the standard tier and 10 at ``flex``. Raising the budget (a Variable) and clearing the run
finishes the night without a second prediction for any input.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from vlm_dag_support import RunDag

from tests.invoices import generate_samples

pytestmark = pytest.mark.timeout(300)

NIGHT = date(2026, 11, 20)


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _usages(dev: Any, prediction_ids: list[str]) -> list[dict[str, Any]]:
    """The server's ``usage`` of each of these predictions."""
    with dev.client() as http:
        return [http.get(f"/predictions/{pid}").json()["usage"] for pid in prediction_ids]


def _server_credits(dev: Any, prediction_ids: list[str]) -> float:
    """What the server billed for these predictions: the sum of their ``usage.credits_used``."""
    return sum(float(u["credits_used"]) for u in _usages(dev, prediction_ids))


def test_a_night_over_its_budget_stops_and_a_clear_after_raising_it_goes_on(
    dev: Any, run_dag: RunDag, tmp_path: Path
) -> None:
    invoices = generate_samples(tmp_path / "in", count=30, seed=20, day=NIGHT, embed_every=2, bad=0)
    source = invoices[0].path.parent
    out = tmp_path / "out"
    env = {
        "VLM_COST_SOURCE": str(source),
        "VLM_COST_OUTPUT": str(out),
        "VLM_COST_BUDGET_VAR": f"vlm_cost_{uuid.uuid4().hex[:8]}",
    }
    result = run_dag("vlm_cost_budget_night", env=env, clear_rerun=True, timeout=240)

    # The first try stopped on the budget: 5 one-page invoices at 2 credits, the rest not submitted.
    stopped = json.loads((out / "stopped-summary.json").read_text())
    first = _rows(out / "stopped-results.jsonl")
    submitted = [r["prediction_id"] for r in first if r["prediction_id"]]
    assert stopped["counts"] == {"completed": 5, "not_submitted": 25}, stopped
    assert [u["elements_processed"] for u in _usages(dev, submitted)] == [1] * 5
    billed_first = _server_credits(dev, submitted)
    assert billed_first == stopped["credits_used"] == 10
    assert stopped["budget"]["max_credits"] == 10 and stopped["budget"]["not_submitted"] == 25
    assert all(
        "max_credits=10 would be exceeded (estimated 2 credits, 0 left)" in r["error"]
        for r in first
        if r["status"] == "not_submitted"
    )
    assert "BudgetExceededError: max_credits=10 reached: 25 of 30 inputs were not submitted" in result.output

    # The Clear after raising the budget finished the night, keeping what was already submitted.
    assert result.clear_number == 1
    assert result.task("extract")["state"] == "success", result.tail()
    final = _rows(out / "night" / "results.jsonl")
    assert [r["status"] for r in final] == ["completed"] * 30
    by_input = {r["input"]: r["prediction_id"] for r in final}
    assert all(by_input[r["input"]] == r["prediction_id"] for r in first if r["prediction_id"])
    stats = dev.stats()
    assert stats["predictions_created"] == 30  # one prediction per input, over both runs
    assert sorted(set(stats["submissions"].values())) == [1]
    summary = result.xcom("extract")
    assert summary["budget"]["max_credits"] == 60 and summary["budget"]["not_submitted"] == 0
    assert summary["credits_by_tier"] == {"standard": summary["credits_used"]}
    # The server's bill: every prediction of the night, and everything it billed in this test.
    assert _server_credits(dev, list(by_input.values())) == summary["credits_used"] == 60
    assert stats["credits_used"] == 60 <= summary["budget"]["reserved"]
    assert "this Clear goes on with that night (5 input(s) already submitted are kept" in result.output


def test_at_flex_the_same_budget_pays_for_twice_the_invoices(
    dev: Any, run_dag: RunDag, tmp_path: Path
) -> None:
    invoices = generate_samples(tmp_path / "in", count=30, seed=20, day=NIGHT, embed_every=2, bad=0)
    out = tmp_path / "out"
    env = {"VLM_COST_SOURCE": str(invoices[0].path.parent), "VLM_COST_OUTPUT": str(out)}
    result = run_dag("vlm_cost_budget_flex", env=env, timeout=240)

    assert result.task("extract")["state"] == "failed", result.tail()
    assert "BudgetExceededError: max_credits=10 reached: 20 of 30 inputs were not submitted" in result.output
    summary = json.loads((out / "flex" / "summary.json").read_text())
    rows = _rows(out / "flex" / "results.jsonl")
    assert summary["counts"] == {"completed": 10, "not_submitted": 20}, summary
    submitted = [r["prediction_id"] for r in rows if r["prediction_id"]]
    # One credit per one-page invoice at flex (2 x 0.5): exactly ten fit, and the server billed 10.
    assert _server_credits(dev, submitted) == dev.stats()["credits_used"] == 10
    assert dev.stats()["tiers"] == {"flex": {"predictions": 10, "credits": 10}}
    assert summary["credits_by_tier"] == {"flex": 10}
    assert [r["input"] for r in rows if r["prediction_id"]] == [r["input"] for r in rows][:10]


def test_privacy_and_tier_choices_reach_the_request_and_what_the_server_records(
    dev: Any, run_dag: RunDag
) -> None:
    """The connection's ``allow_training`` off and ``environment``, the operator's choices over
    them: what the operator hands to the billed call, and what reached the server."""
    conn = {
        "conn_type": "vlm",
        "host": dev.base_url,
        "password": dev.api_key,
        "extra": {"allow_training": False, "environment": "prod", "max_retries": 3},
    }
    result = run_dag("vlm_cost_metadata", env={"AIRFLOW_CONN_VLM_PRIVATE": json.dumps(conn)})
    assert result.task("extract")["state"] == "success", result.tail()
    record = result.xcom("extract")
    assert record["status"] == "completed"
    # One page of document.invoice with grounding (2 + 2 credits) at flex (half): 2 credits.
    assert "max_credits=5: reserved 2 credits (1 pages at flex)" in result.output
    assert dev.api_key not in result.output
    # What the operator handed to the billed call: the connection's choice, the operator's over it.
    sent = result.xcom("extract", key="sent")
    assert sent["metadata"] == {"allow_training": False, "environment": "staging"}
    assert sent["config"] == {"service_tier": "flex", "confidence": True, "grounding": True}

    # What the server recorded of the request that made the prediction (``/_dev/predictions/{id}``).
    view = _recorded(dev, record["id"])
    assert view["request"]["metadata"] == {"allow_training": False, "environment": "staging"}
    assert view["request"]["service_tier"] == view["request"]["service_tier_requested"] == "flex"
    assert view["request"]["confidence"] is True and view["request"]["grounding"] is True
    assert view["usage"]["credits_used"] == 2  # what was reserved: the bill is the estimate

    # The connection's choices alone reach the server too; no tier means the server's standard.
    assert result.task("extract_with_connection_defaults")["state"] == "success", result.tail()
    plain = _recorded(dev, result.xcom("extract_with_connection_defaults")["id"])["request"]
    assert plain["metadata"] == {"allow_training": False, "environment": "prod"}
    assert plain["service_tier"] == "standard" and plain["service_tier_requested"] is None


def _recorded(dev: Any, prediction_id: str) -> dict[str, Any]:
    """The dev server's admin view of a prediction: its record plus what its request asked for."""
    with dev.client() as http:
        reply = http.get(f"/_dev/predictions/{prediction_id}")
    assert reply.status_code == 200, reply.text
    view: dict[str, Any] = reply.json()
    return view


def test_a_prediction_over_its_budget_is_not_submitted_and_spends_no_retry(dev: Any, run_dag: RunDag) -> None:
    result = run_dag("vlm_cost_single_over_budget")
    extract = result.task("extract")
    assert extract["state"] == "failed" and extract["try_number"] == 1, result.tail()
    assert "BudgetExceededError" in result.output
    assert "not submitted: max_credits=0.5 would be exceeded (estimated 2 credits, 0.5 left)" in result.output
    assert dev.stats()["predictions_created"] == 0
