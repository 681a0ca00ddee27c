"""The first try of a task instance reads no record: asking for a missing key is a 404 in the API
server's log on every task, and no earlier try can have written one. Later tries read as before."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airflow_provider_vlm._compat import HAS_TASK_STATE_STORE
from airflow_provider_vlm.client import PredictionStatus
from airflow_provider_vlm.durable import submit_once

pytestmark = pytest.mark.skipif(not HAS_TASK_STATE_STORE, reason="task_state_store arrived in Airflow 3.3")

FP = "f" * 64


class CountingStore:
    """``task_state_store`` that counts the reads the API server would answer."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.reads: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:
        self.reads.append(key)
        return self.data.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.data[key] = value


def _context(store: CountingStore, try_number: int) -> dict[str, Any]:
    ti = type(
        "Ti", (), {"dag_id": "d", "task_id": "t", "run_id": "r", "map_index": -1, "try_number": try_number}
    )
    return {"task_state_store": store, "ti": ti(), "dag_run": type("Run", (), {"clear_number": 0})()}


def _submit(store: CountingStore, try_number: int, created: list[str]) -> str:
    def create(source: dict[str, Any], key: str) -> Any:
        created.append(key)
        return type("P", (), {"id": f"p{len(created)}", "status": PredictionStatus.ENQUEUED})()

    class Client:
        class predictions:
            @staticmethod
            def get(prediction_id: str) -> Any:
                return type("P", (), {"id": prediction_id, "status": PredictionStatus.RUNNING})()

    submitted = submit_once(
        _context(store, try_number),
        Client(),  # type: ignore[arg-type]
        FP,
        prepare=lambda: {"file_id": "f1"},
        create=create,
        log=logging.getLogger("test"),
    )
    return submitted.prediction_id


def test_try_one_reads_nothing_and_try_two_reads_the_record() -> None:
    store, created = CountingStore(), []
    first = _submit(store, 1, created)
    assert store.reads == []  # no look-up of a record that cannot exist yet
    assert store.data["vlm_submission"]["prediction_id"] == first
    second = _submit(store, 2, created)
    assert store.reads and second == first and len(created) == 1  # try 2 re-attaches from the record
