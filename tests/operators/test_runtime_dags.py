"""What a task says and how it stops, through real Airflow (``dag.test()``) and the dev server.

Progress lines mean what they say (the real wait after a deferred resume; every count of the
batch's submit line during an outage), a prediction that ends within ``defer_after`` never
defers, a batch against a dead endpoint fails its try within the documented bound naming the
endpoint, and SIGTERM ends a blocking wait.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from vlm_dag_support import INVOICE, MAPPED, RunDag, _harness

from tests.cluster import free_port

pytestmark = pytest.mark.timeout(240)


def test_a_resumed_try_logs_the_time_it_really_waited(run_dag: RunDag, dev: Any) -> None:
    """The try's start date restarts on resume; the wait is counted from before the deferral."""
    dev.faults(processing_time=2)
    result = run_dag("vlm_runtime_deferred_wait")
    assert result.state == "success", result.tail()
    assert "Pausing task as DEFERRED" in result.output
    (waited,) = re.findall(r"prediction \S+ completed after \d+ s, waited (\d+) s", result.output)
    assert int(waited) >= 2, result.tail()  # the prediction alone ran 2 s after the submit


def test_a_prediction_that_ends_within_defer_after_never_defers(run_dag: RunDag, dev: Any) -> None:
    dev.faults(processing_time=1)
    result = run_dag("vlm_runtime_inline")
    assert result.state == "success", result.tail()
    assert result.xcom("extract")["status"] == "completed"
    assert "Pausing task as DEFERRED" not in result.output
    assert result.task("extract")["try_number"] == 1


def test_the_batch_submit_line_counts_what_happened_during_an_outage(run_dag: RunDag, dev: Any) -> None:
    dev.faults(rules=[{"method": "POST", "path": "/files", "status": 503}])
    result = run_dag("vlm_runtime_batch_outage")
    assert result.state == "failed", result.tail()
    assert (
        "submitting: 1/1 inputs looked at: kept 0, attached 0, submitted 0, resubmitted 0, invalid 0, "
        "not submitted yet (transient errors) 1"
    ) in result.output, result.tail()
    assert "inputs done" not in result.output


def test_a_batch_against_a_dead_endpoint_fails_its_try_naming_the_endpoint(
    airflow_home: Path, dev: Any
) -> None:
    port = free_port()  # nothing listens there
    dead = {
        "conn_type": "vlm",
        "host": f"http://127.0.0.1:{port}/v1",
        "password": "k",
        "extra": {"max_retries": 1},
    }
    env = {
        "VLM_TEST_INVOICES": json.dumps([str(p) for p in MAPPED]),
        "AIRFLOW_CONN_VLM_DEAD": json.dumps(dead),
    }
    result = _harness.run_dag(airflow_home, dev.base_url, dev.api_key, "vlm_runtime_dead_endpoint", env=env)
    assert result.state == "failed" and result.task("batch")["try_number"] == 1, result.tail()
    assert f"the server cannot be reached: cannot connect to 127.0.0.1:{port}" in result.output, result.tail()
    assert "gave up after 2 attempts (max_retries=1)" in result.output


def test_sigterm_ends_a_blocking_wait(airflow_home: Path, dev: Any) -> None:
    """``airflow dags test`` runs the task in its own process: SIGTERM must end the wait, not be ignored."""
    dev.faults(processing_time=3600)
    argv = [sys.executable, _harness.__file__, "vlm_runtime_blocking_wait", "--conf", "{}"]
    argv += ["--dags", str(_harness.DAGS)]
    env = _harness.airflow_env(airflow_home, dev.base_url, dev.api_key, {"VLM_TEST_INVOICE": str(INVOICE)})
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    waiting = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "submitted -> " in line:  # the wait loop's first status line: the try is waiting
                waiting.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert waiting.wait(180), "".join(lines[-60:])
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)  # a hang guard, not a speed assertion
        except subprocess.TimeoutExpired:
            pytest.fail("SIGTERM did not end the process:\n" + "".join(lines[-80:]))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(10)
    output = "".join(lines)
    assert "the task was stopped on the worker" in output, output[-4000:]
    assert "Interrupted: stopped: the task was stopped on the worker" in output, output[-4000:]
    assert dev.stats()["predictions_created"] == 1
