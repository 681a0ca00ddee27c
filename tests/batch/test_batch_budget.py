"""The batch honours ``max_retries`` per input, and a retry re-runs only what can change.

Through ``dag.test()`` against the dev server, whose ``/_dev/stats`` counts the attempts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import HERE, _harness, make_documents

pytestmark = pytest.mark.timeout(240)


def requests(server: Any, route: str) -> int:
    return int(server.stats()["requests"].get(route, 0))


def run_on(server: Any, home: Path, dag_id: str, source: Path) -> _harness.DagResult:
    env = {"VLM_BATCH_SOURCE": str(source)}
    return _harness.run_dag(home, server.base_url, server.api_key, dag_id, env=env, dags_folder=HERE / "dags")


def test_uploads_that_always_answer_503_are_attempted_three_times_per_input(
    dev: Any, batch_home: Path, tmp_path: Path
) -> None:
    docs = make_documents(tmp_path / "in", 2)
    dev.faults(rules=[{"method": "POST", "path": "/files", "status": 503}])
    result = run_on(dev, batch_home, "vlm_batch_budget_one_try", docs[0].parent)
    assert result.task("extract")["state"] == "failed", result.tail()
    assert requests(dev, "POST /files") == 2 * 3  # max_retries=2: 3 attempts per input, no more
    assert "2 input(s) could not be submitted in this try" in result.output
    assert "gave up after 3 attempts (max_retries=2)" in result.output
    assert "the task's retries take over" in result.output
    assert dev.stats()["predictions_created"] == 0


def test_settle_rounds_share_the_budget_of_a_lost_create(dev: Any, batch_home: Path, tmp_path: Path) -> None:
    """A create answered 500 may have been made: the client never resends it; the batch's settle
    rounds do, with the same key, within the input's max_retries + 1 attempts."""
    docs = make_documents(tmp_path / "in", 2)
    dev.faults(rules=[{"method": "POST", "path": "/document/generate", "status": 500}])
    result = run_on(dev, batch_home, "vlm_batch_budget_one_try", docs[0].parent)
    assert result.task("extract")["state"] == "failed", result.tail()
    assert requests(dev, "POST /document/generate") == 2 * 3
    assert "could not be submitted in this try" in result.output
    assert dev.stats()["predictions_created"] == 0


def test_a_refused_input_is_not_sent_again_and_spends_no_retry(
    start_devserver: Callable[..., Any], batch_home: Path, tmp_path: Path
) -> None:
    """Try 1: the big input is refused (413) and the other's create loses its answer. Try 2 resends
    only that create (same key) and does not upload the refused input again; its only failure is
    then the refusal, so it fails without spending the last retry."""
    (good,) = make_documents(tmp_path / "in", 1)
    big = good.parent / "big.txt"
    big.write_text("x" * 5000)
    with start_devserver("--processing-time", "0.2", "--max-upload-bytes", "1000") as server:
        server.faults(rules=[{"method": "POST", "path": "/document/generate", "status": 503, "count": 1}])
        result = run_on(server, batch_home, "vlm_batch_refused_retried", good.parent)
        stats = server.stats()
    task = result.task("extract")
    assert task["state"] == "failed" and task["try_number"] == 2, result.tail()
    assert stats["requests"]["POST /files"] == 2  # try 1: both; try 2: neither (md5 look-up found one)
    assert stats["predictions_created"] == 1 and list(stats["submissions"].values()) == [1]
    assert "BatchInputsRefusedError" in result.output
    assert "(HTTP 413)" in result.output
