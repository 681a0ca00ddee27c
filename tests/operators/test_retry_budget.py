"""``max_retries`` is the one retry budget of a call, through real Airflow tries (``dag.test()``).

The dev server answers every matching request with the injected status and counts the requests
it got (``/_dev/stats``): the counts are the attempts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from vlm_dag_support import RunDag, _harness

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def run(dev: Any, airflow_home: Path, tmp_path: Path) -> RunDag:
    doc = tmp_path / "receipt.txt"
    doc.write_text("Receipt 42\nTotal: 12.50 EUR\n")

    def run_dag(dag_id: str) -> _harness.DagResult:
        env = {"VLM_BUDGET_DOC": str(doc)}
        return _harness.run_dag(airflow_home, dev.base_url, dev.api_key, dag_id, env=env)

    return run_dag


def requests(dev: Any, route: str) -> int:
    return int(dev.stats()["requests"].get(route, 0))


def test_an_upload_that_always_answers_503_is_attempted_three_times_in_one_try(run: RunDag, dev: Any) -> None:
    dev.faults(rules=[{"method": "POST", "path": "/files", "status": 503}])
    result = run("vlm_budget_one_try")
    assert result.state == "failed" and result.task("extract")["try_number"] == 1, result.tail()
    assert requests(dev, "POST /files") == 3  # max_retries=2 (the connection says 3)
    assert "[POST /files]; gave up after 3 attempts (max_retries=2)" in result.output
    assert "the task's retries take over" in result.output
    assert dev.stats()["predictions_created"] == 0


def test_a_refused_create_is_attempted_three_times_per_try(run: RunDag, dev: Any) -> None:
    """503 with ``Retry-After`` means "not done": resent within the budget; then the scheduler retries."""
    dev.faults(rules=[{"method": "POST", "path": "/document/generate", "status": 503, "retry_after": 0}])
    result = run("vlm_budget_retried")
    assert result.state == "failed" and result.task("extract")["try_number"] == 2, result.tail()
    assert requests(dev, "POST /document/generate") == 2 * 3
    assert "[POST /document/generate]; gave up after 3 attempts (max_retries=2)" in result.output
    assert dev.stats()["predictions_created"] == 0


def test_a_create_whose_answer_is_lost_is_sent_once_per_try(run: RunDag, dev: Any) -> None:
    """A 500 after sending may have created it: the client never resends; the retry does, same key."""
    dev.faults(rules=[{"method": "POST", "path": "/document/generate", "status": 500}])
    result = run("vlm_budget_retried")
    assert result.state == "failed" and result.task("extract")["try_number"] == 2, result.tail()
    assert requests(dev, "POST /document/generate") == 2
    assert "OutcomeUnknownError" in result.output and "the task's retries take over" in result.output


def test_a_missing_connection_fails_without_spending_retries(run: RunDag, dev: Any) -> None:
    result = run("vlm_budget_missing_connection")
    assert result.state == "failed", result.tail()
    assert result.task("extract")["try_number"] == 1, "retries=2 must not be spent on a missing connection"
    assert "connection 'vlm_no_such_connection' is not defined" in result.output
    assert sum(dev.stats()["requests"].values()) == 0


# --- the operators' max_retries argument (no Airflow run) ----------------------------------------


def _operators(**kwargs: Any) -> list[Callable[[], Any]]:
    """A factory per operator (and the sensor) that takes ``max_retries``."""
    from airflow_provider_vlm.operators.batch import GenerateBatchOperator
    from airflow_provider_vlm.operators.generate import GenerateOperator
    from airflow_provider_vlm.operators.schema import GenerateSchemaOperator
    from airflow_provider_vlm.sensors.prediction import PredictionSensor

    url = "https://example.com/a.pdf"
    return [
        lambda: GenerateOperator(task_id="g", domain="document.invoice", url=url, **kwargs),
        lambda: GenerateSchemaOperator(task_id="s", url=url, **kwargs),
        lambda: GenerateBatchOperator(task_id="b", domain="document.invoice", inputs=[url], **kwargs),
        lambda: PredictionSensor(task_id="p", prediction_id="x", **kwargs),
    ]


@pytest.mark.parametrize("bad", [-1, True, "2", 1.5])
def test_a_bad_max_retries_fails_at_parse_time(bad: Any) -> None:
    from airflow_provider_vlm.client import ConfigurationError

    for make in _operators(max_retries=bad):
        with pytest.raises(ConfigurationError, match="max_retries must be an integer >= 0"):
            make()


def test_the_operators_max_retries_overrides_the_connections(
    monkeypatch: pytest.MonkeyPatch, dev: Any
) -> None:
    conn = {"conn_type": "vlm", "host": dev.base_url, "password": dev.api_key, "extra": {"max_retries": 7}}
    monkeypatch.setenv("AIRFLOW_CONN_VLM_DEFAULT", json.dumps(conn))
    for make in _operators(max_retries=1):
        task = make()
        assert task.hook.get_client().retry_policy.max_retries == 1, task.task_id
    for make in _operators():
        task = make()
        assert task.hook.get_client().retry_policy.max_retries == 7, task.task_id
