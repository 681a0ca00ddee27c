"""The nightly example runs the night as a finance team should: flex, no training, a confidence floor.

Through ``dag.test()`` of the nightly DAG alone in its folder (the harness of
``test_nightly_without_logical_date.py``): the dev server records what each prediction was asked
(``GET /v1/_dev/predictions/{id}``) and what it billed per tier (``/_dev/stats``), so the test
reads the truth from the server, not from the DAG. Credit figures are never written here: the
rate card is the server's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_vlm.invoices import REQUIRED_FIELDS, field_confidence
from tests.example_dags import test_nightly_without_logical_date as lone
from tests.invoices import InvoiceSet
from vlm_nightly_invoices import MIN_CONFIDENCE

# The lone nightly DAG, its folders and its runner, shared with the no-logical-date tests.
lone_dag, folders = lone.lone_dag, lone.folders
rows, run_nightly, stage = lone.rows, lone.run_nightly, lone.stage

# The night's predictions end at once: these tests are about what the night asks and bills, not waiting.
pytestmark = pytest.mark.processing_time(0.1)

NIGHT = "2026-11-18"
RUN_AFTER = "2026-11-26T09:00:00+00:00"


def recorded(dev: Any, prediction_id: str) -> dict[str, Any]:
    """What the dev server recorded of a prediction's request (its admin view)."""
    with dev.client() as client:
        response = client.get(f"/_dev/predictions/{prediction_id}")
    response.raise_for_status()
    request: dict[str, Any] = response.json()["request"]
    return request


def unsure_fields(response: dict[str, Any], floor: float) -> set[str]:
    """The required fields the server reported a confidence below ``floor`` for."""
    return {
        field
        for field in REQUIRED_FIELDS
        if response.get(field) is not None and (field_confidence(response, field) or 0.0) < floor
    }


@pytest.mark.timeout(300)
def test_the_night_is_flex_untrained_and_flags_unsure_fields(
    lone_dag: tuple[Path, Path], dev: Any, folders: tuple[Path, Path], invoice_set: InvoiceSet
) -> None:
    inbox, output = folders
    einvoice, texts = invoice_set.einvoices[0], invoice_set.text_only[:2]
    stage(inbox, NIGHT, [einvoice.path, *(t.path for t in texts)])
    result = run_nightly(lone_dag, dev, folders, RUN_AFTER, {"night": NIGHT})
    assert result.state == "success", result.tail()

    got = {r["input"].rsplit("/", 1)[-1]: r for r in rows(output, NIGHT)}
    assert len(got) == 3 and all(r["status"] == "completed" for r in got.values()), got

    # Every request went out at flex, with training refused and confidence asked for.
    for row in got.values():
        request = recorded(dev, row["prediction_id"])
        assert request["service_tier"] == "flex", request
        assert request["metadata"]["allow_training"] is False, request
        assert request["confidence"] is True, request

    # The e-invoice's fields come from its XML: nothing to review.
    assert got[einvoice.path.name]["problems"] == []
    assert got[einvoice.path.name]["review_fields"] == {}
    # The text-only invoices pass every rule but hold fields the server was unsure of: each is
    # flagged for exactly those fields, for confidence, and the report says so.
    report = (output / NIGHT / "report.txt").read_text()
    for text in texts:
        row = got[text.path.name]
        unsure = unsure_fields(row["response"], MIN_CONFIDENCE)
        assert unsure, row["response"]  # the sample is a text-layer guess: something is unsure
        assert row["review_fields"] == {field: ["confidence"] for field in unsure}, row
        assert {p["field"] for p in row["problems"]} == unsure
        assert all(p["why"] == "confidence" for p in row["problems"])
        line = next(line for line in report.splitlines() if text.path.name in line)
        for field in unsure:
            assert f"[confidence] {field} confidence" in line, line
    assert sorted(result.xcom("validate_and_report")["failed_validation"]) == sorted(
        t.path.name for t in texts
    )

    # The credits reported are the server's bill, per tier.
    billed = {
        tier: figures["credits"] for tier, figures in dev.stats()["tiers"].items() if figures["credits"]
    }
    assert set(billed) == {"flex"}
    summary = result.xcom("validate_and_report")
    assert summary["credits_by_tier"] == pytest.approx(billed)
    assert sum(r["usage"]["credits_used"] for r in got.values()) == billed["flex"]
    assert f"Credits billed: {billed['flex']:g} at flex" in report


@pytest.mark.timeout(300)
def test_min_confidence_param_sets_the_floor(
    lone_dag: tuple[Path, Path], dev: Any, folders: tuple[Path, Path], invoice_set: InvoiceSet
) -> None:
    """A floor under every confidence the server reported flags nothing for confidence."""
    inbox, output = folders
    text = invoice_set.text_only[0]
    stage(inbox, NIGHT, [text.path])
    result = run_nightly(lone_dag, dev, folders, RUN_AFTER, {"night": NIGHT, "min_confidence": 0.0})
    assert result.state == "success", result.tail()
    (row,) = rows(output, NIGHT)
    assert unsure_fields(row["response"], MIN_CONFIDENCE)  # flagged at the default floor...
    assert row["problems"] == [] and row["review_fields"] == {}, row  # ...not at 0
    assert "All documents passed validation." in (output / NIGHT / "report.txt").read_text()


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("conf", "variable"),
    [
        pytest.param({"max_credits": 0.5}, None, id="param"),
        pytest.param({}, "0.5", id="variable"),  # no param: the Variable vlm_invoice_max_credits
    ],
)
def test_max_credits_stops_the_night_naming_the_budget(
    lone_dag: tuple[Path, Path],
    dev: Any,
    folders: tuple[Path, Path],
    invoice_set: InvoiceSet,
    monkeypatch: pytest.MonkeyPatch,
    conf: dict[str, Any],
    variable: str | None,
) -> None:
    """A budget below one invoice's bill: nothing is submitted, the task fails naming the budget."""
    inbox, _ = folders
    if variable is not None:
        monkeypatch.setenv("AIRFLOW_VAR_VLM_INVOICE_MAX_CREDITS", variable)
    stage(inbox, NIGHT, [invoice_set.einvoices[0].path, invoice_set.einvoices[1].path])
    result = run_nightly(lone_dag, dev, folders, RUN_AFTER, {"night": NIGHT, **conf})
    assert result.state == "failed", result.tail()
    assert result.task("extract")["state"] == "failed"
    assert "max_credits=0.5 reached" in result.output, result.tail()
    assert dev.stats()["predictions_created"] == 0
