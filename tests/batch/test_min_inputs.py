"""``min_inputs``: how many inputs a run must list; fewer fails at once, naming where it looked.

The run through Airflow (an empty night of the nightly example fails once, naming the folder) is
in ``tests/example_dags/test_nightly_without_logical_date.py``; these are the parts.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_vlm.client import VlmInputError
from airflow_provider_vlm.client.errors import TaskRetry
from airflow_provider_vlm.operators._batch_inputs import (
    describe_source,
    inputs_origin,
    run_description,
    too_few_inputs,
)
from airflow_provider_vlm.operators.batch import BatchTooFewInputsError, GenerateBatchOperator


def op(**kwargs: Any) -> GenerateBatchOperator:
    kwargs.setdefault("task_id", "extract")
    kwargs.setdefault("domain", "document.invoice")
    return GenerateBatchOperator(**kwargs)


def test_the_default_is_one_and_zero_accepts_an_empty_batch(tmp_path: Path) -> None:
    assert op(source=str(tmp_path)).min_inputs == 1
    assert op(source=str(tmp_path), min_inputs=0).min_inputs == 0


@pytest.mark.parametrize("value", [-1, 1.5, "2", True, None])
def test_min_inputs_is_checked_at_parse_time(tmp_path: Path, value: Any) -> None:
    with pytest.raises(VlmInputError, match="extract: min_inputs must be an integer >= 0"):
        op(source=str(tmp_path), min_inputs=value)


def test_too_few_inputs_fail_without_retries_naming_the_folder_and_the_run(tmp_path: Path) -> None:
    night = tmp_path / "inbox" / "2026-11-20"
    night.mkdir(parents=True)
    where = describe_source(str(night), "*.pdf", "unused")
    assert where == f"{night} matching '*.pdf'"
    error = too_few_inputs(owner="extract", found=0, min_inputs=1, where=where, run="run scheduled__x")
    message = str(error)
    assert message.startswith(f"extract: 0 inputs in {night} matching '*.pdf', fewer than min_inputs=1")
    assert "(run scheduled__x)" in message and "min_inputs=0" in message
    # The error table: the default retry_policy (3.3) and fail_fast (below) fail it at once.
    assert isinstance(error, BatchTooFewInputsError) and isinstance(error, VlmInputError)
    assert BatchTooFewInputsError.task_retry is TaskRetry.FAIL
    assert str(too_few_inputs(owner="x", found=1, min_inputs=3, where=where, run="r")).startswith(
        "x: 1 input in"
    )


def test_a_missing_folder_is_named_as_missing(tmp_path: Path) -> None:
    assert describe_source(str(tmp_path / "nope"), "*", "unused").endswith(
        "matching '*' (the folder does not exist)"
    )


def test_a_list_names_its_upstream_task() -> None:
    upstream = SimpleNamespace(operator=SimpleNamespace(task_id="list_invoices"))
    assert inputs_origin(upstream) == "the inputs listed by task 'list_invoices'"
    assert inputs_origin(["a.pdf"]) == "the inputs list"
    assert describe_source(None, "*", "the inputs list") == "the inputs list"


def test_the_run_is_named_with_or_without_a_logical_date() -> None:
    run = SimpleNamespace(run_id="manual__2026-11-21", run_after="2026-11-21 10:30:00+00:00")
    assert run_description({"dag_run": run}) == (
        "run manual__2026-11-21, no logical date, run after 2026-11-21 10:30:00+00:00"
    )
    scheduled = {"dag_run": run, "logical_date": "2026-11-21 02:00:00+00:00"}
    assert run_description(scheduled) == "run manual__2026-11-21, logical date 2026-11-21 02:00:00+00:00"


def test_execute_stops_before_any_call_when_the_folder_is_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an invoice")
    context: Any = {"dag_run": SimpleNamespace(run_id="manual__x", run_after="2026-11-21")}
    # No connection exists here: the check comes before the client is made.
    with pytest.raises(BatchTooFewInputsError, match=r"0 inputs in .* matching '\*\.pdf'.*run manual__x"):
        op(source=str(tmp_path), pattern="*.pdf").execute(context)
    with pytest.raises(BatchTooFewInputsError, match="2 inputs in the inputs list, fewer than min_inputs=3"):
        op(inputs=["a.pdf", "b.pdf"], min_inputs=3).execute(context)
