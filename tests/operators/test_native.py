"""Airflow-native features in real runs (``dag.test()`` in a child process, real dev server):
``@task.vlm`` with ``.expand``, OpenLineage's file transport, metrics to a StatsD listener, a
retry that re-attaches, and a large result through the object-storage XCom backend."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vlm_dag_support import INVOICE, MAPPED, RunDag

from airflow_provider_vlm import metrics

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def statsd() -> Iterator[socket.socket]:
    """A StatsD listener: a UDP socket on 127.0.0.1; Airflow sends one datagram per metric."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    """Every datagram already delivered (the run is over: nothing more is on its way)."""
    sock.setblocking(False)
    lines: list[str] = []
    while True:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return lines
        lines.extend(data.decode().splitlines())


def metric_values(lines: list[str], name: str) -> list[tuple[float, str]]:
    """``(value, type)`` of every ``airflow.<name>:<value>|<type>`` line."""
    found = []
    for line in lines:
        stat, _, rest = line.partition(":")
        if stat == f"airflow.{name}":
            value, _, kind = rest.partition("|")
            found.append((float(value), kind.split("|")[0]))
    return found


def lineage_events(path: Path) -> list[dict[str, Any]]:
    events = []
    for file in sorted(path.parent.glob(path.name + "*")):
        events += [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
    return events


def test_taskflow_expand_lineage_and_metrics(
    run_dag: RunDag, dev: Any, tmp_path: Path, statsd: socket.socket
) -> None:
    lineage_file = tmp_path / "lineage" / "events.jsonl"
    lineage_file.parent.mkdir()
    output = tmp_path / "batch-output"
    env = {
        "VLM_TEST_OUTPUT": str(output),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(lineage_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "vlm-tests",
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(statsd.getsockname()[1]),
    }
    result = run_dag("vlm_native", env=env)
    assert result.returncode == 0 and result.state == "success", result.tail(150)

    # @task.vlm: mapped, deferred, one prediction record per input, read downstream
    records = [result.xcom("extract", map_index=i) for i in range(len(MAPPED))]
    assert all(r["status"] == "completed" for r in records), records
    assert "Pausing task as DEFERRED" in result.output
    assert len(result.xcom("invoice_ids")) == len(MAPPED)
    assert result.xcom("extract", "prediction_id", map_index=0) == records[0]["id"]
    assert dev.stats()["predictions_created"] == 2 * len(MAPPED)  # the decorator's and the batch's

    # OpenLineage: inputs and output of the batch, the input of each decorated task, the vlm facet
    complete = [e for e in lineage_events(lineage_file) if e.get("eventType") == "COMPLETE"]
    by_job = {e["job"]["name"]: e for e in complete}
    batch = by_job["vlm_native.batch"]
    assert {d["name"] for d in batch["inputs"]} == {str(p) for p in MAPPED}
    assert [(d["namespace"], d["name"]) for d in batch["outputs"]] == [("file", str(output))]
    facet = batch["run"]["facets"]["vlm"]
    assert facet["domain"] == "document.invoice" and facet["model"] == "vlm-1"
    assert facet["predictionCount"] == len(MAPPED) and len(facet["predictionIds"]) == len(MAPPED)
    assert facet["creditsUsed"] is not None
    assert facet["schemaHash"] and facet["schemaVersion"]  # the schema the batch extracted against
    decorated = [e for e in complete if e["job"]["name"] == "vlm_native.extract"]
    assert len(decorated) == len(MAPPED), [e["job"]["name"] for e in complete]
    assert sorted(d["name"] for e in decorated for d in e["inputs"]) == sorted(str(p) for p in MAPPED)
    assert {e["run"]["facets"]["vlm"]["predictionIds"][0] for e in decorated} == {r["id"] for r in records}

    # metrics: every documented name that this run produces reached the StatsD listener
    lines = received(statsd)
    n = len(MAPPED)
    assert sum(v for v, _ in metric_values(lines, metrics.SUBMITTED)) == 2 * n, lines
    assert sum(v for v, _ in metric_values(lines, metrics.COMPLETED)) == 2 * n
    assert metric_values(lines, metrics.FAILED) == []
    assert sum(v for v, _ in metric_values(lines, metrics.CREDITS)) > 0
    assert [kind for _, kind in metric_values(lines, metrics.WAIT)] == ["ms"] * (2 * n)
    assert metric_values(lines, metrics.BATCH_SIZE) == [(float(n), "g")]


def test_taskflow_retry_after_crash_reattaches(run_dag: RunDag, dev: Any, statsd: socket.socket) -> None:
    env = {
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(statsd.getsockname()[1]),
    }
    dev.faults(processing_time=3)  # still running when try 2 looks: it re-attaches
    result = run_dag("vlm_taskflow_crash", env=env)
    assert result.state == "success", result.tail(150)
    assert result.task("extract_once")["try_number"] == 2
    assert "re-attaching" in result.output
    stats = dev.stats()
    assert stats["predictions_created"] == 1 and list(stats["submissions"].values()) == [1], stats
    record = result.xcom("extract_once")
    assert record["status"] == "completed" and record["response"]["invoice_id"] == "471102"
    lines = received(statsd)
    assert sum(v for v, _ in metric_values(lines, metrics.SUBMITTED)) == 1
    assert sum(v for v, _ in metric_values(lines, metrics.REATTACHED)) == 1


def test_large_markdown_result_through_object_storage_xcom(run_dag: RunDag, tmp_path: Path) -> None:
    store = tmp_path / "xcom"
    store.mkdir()
    env = {
        "AIRFLOW__CORE__XCOM_BACKEND": "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend",
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH": f"file://{store}",
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD": "1024",
    }
    result = run_dag("vlm_markdown_xcom", env=env)
    assert result.state == "success", result.tail(150)
    reference = result.xcom("markdown")
    assert isinstance(reference, str) and reference.startswith("file://"), reference
    stored = Path(reference.removeprefix("file://"))
    assert stored.is_relative_to(store)
    record = json.loads(stored.read_text())
    assert record["status"] == "completed" and record["domain"] == "document.markdown"
    assert record["response"]["pages"]
    assert result.xcom("pages") == len(record["response"]["pages"])
    # the task's rendered fields show the input the function returned, not a placeholder
    (rendered,) = [r["fields"] for r in result.rendered if r["task_id"] == "markdown"]
    assert rendered["file"] == str(INVOICE), rendered
