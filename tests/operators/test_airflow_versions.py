"""What differs between Airflow lines (``_compat``), proven on whichever line runs the suite.

The same file runs on every line (the full suite on the newest, the version suite on the older
ones): each test asserts this line's side of the difference, so on 3.0-3.2 it proves the
Variables home and fail-at-once, and on 3.3 ``task_state_store`` and ``retry_policy``.
"""

from __future__ import annotations

from typing import Any

import pytest
from vlm_dag_support import RunDag

from airflow_provider_vlm import _compat
from airflow_provider_vlm.client import AuthenticationError, ServerError, VlmInputError
from airflow_provider_vlm.retry_policy import with_default_retry_policy
from airflow_provider_vlm.state_store import UpgradedStore

STORE_LINE = "durable record lives in Airflow Variables"


def _one_prediction(dev: Any) -> None:
    stats = dev.stats()
    assert stats["predictions_created"] == 1, stats
    assert list(stats["submissions"].values()) == [1], stats


@pytest.mark.timeout(240)
@pytest.mark.parametrize("dag_id", ["vlm_crash_deferrable", "vlm_crash_blocking"])
def test_a_try_that_dies_after_submitting_bills_nothing_twice(run_dag: RunDag, dev: Any, dag_id: str) -> None:
    """Try 1 dies after its prediction was created; try 2 finds the record on this line's store."""
    dev.faults(processing_time=3)
    result = run_dag(dag_id)
    assert result.state == "success" and result.task("extract")["try_number"] == 2, result.tail()
    assert "re-attaching" in result.output or "already completed" in result.output, result.tail()
    _one_prediction(dev)
    if _compat.HAS_TASK_STATE_STORE:
        assert [r["key"] for r in result.task_state] == ["vlm_submission"]
        assert STORE_LINE not in result.output
    else:
        assert result.output.count(STORE_LINE) == 2, result.tail()  # once per try
        assert result.variables == []  # deleted once the task succeeded


def test_the_default_retry_policy_where_airflow_has_one() -> None:
    kwargs = with_default_retry_policy({"task_id": "t"})
    if _compat.HAS_RETRY_POLICY:
        assert type(kwargs["retry_policy"]).__name__ == "VlmRetryPolicy"
        assert with_default_retry_policy({"retry_policy": None})["retry_policy"] is None
    else:
        assert kwargs == {"task_id": "t"}
        assert with_default_retry_policy({"retry_policy": None}) == {}  # the documented "off"
        with pytest.raises(TypeError, match=r"Airflow 3\.3"):
            with_default_retry_policy({"retry_policy": object()})


class _Op:
    def __init__(self, error: Exception) -> None:
        self.error = error

    @_compat.fail_fast
    def execute(self, context: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(
    "error", [AuthenticationError("key rejected", status_code=401), VlmInputError("no file")]
)
def test_an_error_retrying_cannot_fix_fails_at_once(error: Exception) -> None:
    """3.3: the typed error reaches ``retry_policy``; below it: ``AirflowFailException``, no retry."""
    expected = type(error) if _compat.HAS_RETRY_POLICY else _compat.AirflowFailException
    with pytest.raises(expected):
        _Op(error).execute({})


def test_an_error_time_may_fix_keeps_the_tasks_retries() -> None:
    with pytest.raises(ServerError):
        _Op(ServerError("boom", status_code=502)).execute({})


class _Store:
    """Stands in for ``task_state_store``."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.data[key] = value


class _Legacy(_Store):
    """Stands in for the Variables a try below 3.3 wrote (``VariableStateStore``)."""

    reads = 0

    @property
    def keys(self) -> list[str]:
        self.reads += 1
        return list(self.data)

    def clear(self) -> None:
        self.data.clear()


def test_a_record_written_below_3_3_is_moved_into_task_state_store_once() -> None:
    """After the upgrade the retry finds the old record (and the batch's chunks), then Variables are empty."""
    legacy = _Legacy()
    legacy.data = {"vlm_batch": {"version": 1, "chunks": 1}, "vlm_batch.0": [{"input": "a"}]}
    store = _Store()
    upgraded = UpgradedStore(store, legacy)  # type: ignore[arg-type]
    assert upgraded.get("vlm_batch") == {"version": 1, "chunks": 1}
    assert store.data == {"vlm_batch": {"version": 1, "chunks": 1}, "vlm_batch.0": [{"input": "a"}]}
    assert legacy.data == {}
    assert upgraded.get("vlm_batch.invalid") is None
    assert legacy.reads == 2  # looked once (keys read twice in that one look), never again


def test_a_try_with_its_record_in_task_state_store_pays_no_extra_read() -> None:
    legacy = _Legacy()
    store = _Store()
    store.data["vlm_submission"] = {"generation": 1}
    upgraded = UpgradedStore(store, legacy)  # type: ignore[arg-type]
    assert upgraded.get("vlm_submission") == {"generation": 1}
    assert legacy.reads == 0
