"""The ``dag.test()`` harness sends a run to a warm server only where a fresh process would see the
same Airflow: a run that sets Airflow configuration or Python start-up variables of its own gets a
fresh process (``tests/dags/_warm.py`` fixes those at import time)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parent / "dags"
if str(HARNESS) not in sys.path:
    sys.path.insert(0, str(HARNESS))

import _harness  # noqa: E402
import _warm  # noqa: E402


@pytest.fixture
def envs(tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    server = _harness.airflow_env(tmp_path, _harness.UNUSED_URL, "unused")
    run = _harness.airflow_env(tmp_path, "http://127.0.0.1:1234", "key", {"VLM_TEST_INVOICE": "/x.pdf"})
    return server, run


def test_a_run_with_its_own_connection_and_inputs_can_be_forked(envs, tmp_path: Path) -> None:
    server, run = envs
    assert _warm.fixed(run) == _warm.fixed(server)


@pytest.mark.parametrize(
    "extra",
    [
        {"AIRFLOW__CORE__XCOM_BACKEND": "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend"},
        {"AIRFLOW__METRICS__STATSD_ON": "True"},
        {"AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG"},
        {"PYTHONHASHSEED": "0"},
    ],
)
def test_a_run_that_sets_airflow_configuration_gets_a_fresh_process(
    envs, tmp_path: Path, extra: dict[str, str]
) -> None:
    server, run = envs
    before = dict(_warm._servers)  # earlier tests of the session may have left warm servers up
    assert _warm.warm_run(tmp_path, _harness.DAGS, server, {**run, **extra}) is None
    assert _warm._servers == before  # nothing was started for it
