"""The task's Details (its "VLM prediction" link) and the log of a resumed try, through real
Airflow (``dag.test()`` in a child process) against the real dev server."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.invoices import generated

DAGS = Path(__file__).resolve().parent / "dags"
HARNESS_DIR = Path(__file__).resolve().parents[1] / "dags"
if str(HARNESS_DIR) not in sys.path:
    sys.path.insert(0, str(HARNESS_DIR))

import _harness  # noqa: E402

pytestmark = pytest.mark.timeout(300)

INVOICE = generated().primary.path
LINK_KEY = "_link_VlmPredictionLink"
SUMMARY = re.compile(
    r"prediction (\S+) completed after \d+ s, waited \d+ s, (\d+(\.\d+)? credits?|credits not reported)"
)


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("airflow_ui_home")
    _harness.migrate(home)
    return home


def _run(home: Path, dev: Any, dag_id: str, conn_extra: dict[str, Any] | None = None) -> _harness.DagResult:
    conn = {"conn_type": "vlm", "host": dev.base_url, "password": dev.api_key, "extra": conn_extra or {}}
    env = {
        "VLM_TEST_INVOICE": str(INVOICE),
        "AIRFLOW_CONN_VLM_DEFAULT": json.dumps(conn),
        "AIRFLOW_CONN_VLM_NO_KEY": json.dumps({"conn_type": "vlm", "host": dev.base_url}),
    }
    return _harness.run_dag(home, dev.base_url, dev.api_key, dag_id, env=env, dags_folder=DAGS)


def test_resumed_try_logs_one_summary_and_no_link_for_a_custom_server(airflow_home, dev) -> None:
    result = _run(airflow_home, dev, "vlm_ui_deferred")
    assert result.state == "success", result.tail()
    assert "Pausing task as DEFERRED" in result.output
    record = result.xcom("extract")
    (summary,) = SUMMARY.findall(result.output)
    assert summary[0] == record["id"]
    # A custom Base URL and no dashboard_url: no link (the UI shows no button for an empty one).
    assert result.xcom("extract", LINK_KEY) == ""


def test_sensor_resumed_try_logs_the_summary_and_links_the_dashboard(airflow_home, dev) -> None:
    result = _run(airflow_home, dev, "vlm_ui_sensor", {"dashboard_url": "https://dash.test/"})
    assert result.state == "success", result.tail()
    record = result.xcom("wait")
    assert [s[0] for s in SUMMARY.findall(result.output)] == [record["id"]]
    assert result.xcom("wait", LINK_KEY) == f"https://dash.test/predictions/{record['id']}"


def test_no_xcom_error_for_a_task_that_never_submitted(airflow_home, dev) -> None:
    result = _run(airflow_home, dev, "vlm_ui_no_key")
    assert result.task("extract")["state"] == "failed", result.tail()
    assert "No API key" in result.output or "no API key" in result.output
    assert result.xcom("extract", "prediction_id") is None
    assert result.xcom("extract", LINK_KEY) == ""
    assert "XCom not found" not in result.output
    assert "Failed to push an xcom for task operator extra link" not in result.output
