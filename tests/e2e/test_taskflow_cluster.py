"""``@task.vlm`` with ``.expand`` through real processes (api-server, scheduler, dag-processor,
triggerer): each mapped task defers, a crash after submitting is retried by re-attaching, and the
task runner's metrics reach a StatsD listener on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_vlm import metrics
from tests.cluster import LocalAirflow
from tests.invoices import generated

PICKED = [invoice.path for invoice in generated().einvoices[1:3]]
SECRET = "sk-e2e-taskflow-3b9f"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture
def statsd() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


@pytest.fixture
def airflow(tmp_path: Path, statsd: socket.socket) -> Iterator[LocalAirflow]:
    extra = {
        "VLM_TEST_INVOICES": json.dumps([str(p) for p in PICKED]),
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(statsd.getsockname()[1]),
    }
    instance = LocalAirflow(tmp_path, Path(__file__).resolve().parent / "taskflow_dags", extra_env=extra)
    try:
        yield instance
    finally:
        instance.stop_all()


def received(sock: socket.socket) -> list[str]:
    """Every datagram already delivered."""
    sock.setblocking(False)
    lines: list[str] = []
    while True:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return lines
        lines.extend(data.decode(errors="replace").splitlines())


def _sum(lines: list[str], name: str) -> float:
    total = 0.0
    for line in lines:
        stat, _, rest = line.partition(":")
        if stat == f"airflow.{name}":
            total += float(rest.partition("|")[0])
    return total


def test_taskflow_expand_defers_and_retry_reattaches(
    airflow: LocalAirflow, start_devserver: Any, statsd: socket.socket
) -> None:
    assert all(p.exists() for p in PICKED)
    with start_devserver("--port", "0", "--processing-time", "8", "--api-key", SECRET) as server:
        airflow.start_all(server.base_url, SECRET)
        airflow.wait_for(
            "the DAG to be parsed",
            lambda: airflow.query("select 1 from dag where dag_id='vlm_taskflow_e2e'"),
            90,
        )
        airflow.cli("dags", "trigger", "vlm_taskflow_e2e")
        airflow.wait_for(
            "a mapped task to defer and the triggerer to take its trigger",
            lambda: airflow.query(
                "select 1 from trigger where triggerer_id is not null and classpath = ?",
                "airflow_provider_vlm.triggers.prediction.PredictionTrigger",
            ),
            120,
        )
        airflow.wait_for(
            "the run to end",
            lambda: airflow.query(
                "select state from dag_run where dag_id='vlm_taskflow_e2e' and state in ('success', 'failed')"
            ),
            180,
        )
        rows = airflow.query(
            "select map_index, try_number, state from task_instance "
            "where dag_id='vlm_taskflow_e2e' and task_id='extract' order by map_index"
        )
        # Map index 0 died on try 1, so it succeeded on a later try. Airflow's defer race may also
        # have failed a try of either (it then re-attached once more): only what holds either way
        # is asserted. Nothing was submitted twice.
        assert [(m, s) for m, _, s in rows] == [(0, "success"), (1, "success")], airflow.logs()
        assert rows[0][1] >= 2, rows
        assert airflow.query("select state from dag_run where dag_id='vlm_taskflow_e2e'") == [("success",)]
        stats = server.stats()
        assert stats["predictions_created"] == len(PICKED), stats  # every retry re-attached
        lines = received(statsd)
        assert _sum(lines, metrics.SUBMITTED) == len(PICKED), [x for x in lines if "vlm" in x]
        retried = sum(try_number - 1 for _, try_number, _ in rows)
        assert 1 <= _sum(lines, metrics.REATTACHED) <= retried
        assert _sum(lines, metrics.COMPLETED) == len(PICKED)
