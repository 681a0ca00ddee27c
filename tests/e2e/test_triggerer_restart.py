"""One deferring run through real processes; the triggerer is SIGKILLed mid-wait and replaced.

api-server, scheduler, dag-processor and triggerer run on SQLite with LocalExecutor,
``PARALLELISM=2``, on 127.0.0.1 and free ports; the connection is stored in the metadata DB. The
run must complete with one submission, the trigger's deadline unchanged, and no API key in the
trigger table.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INVOICE = (
    ROOT.parent
    / "shared"
    / "data"
    / "invoices"
    / "zugferd"
    / "correct"
    / "XML-Rechnung__FX__EN16931_Einfach.pdf"
)
SECRET = "sk-e2e-secret-5e1d0c9b"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Airflow:
    def __init__(self, home: Path) -> None:
        self.home = home
        port = _free_port()
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).resolve().parent / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-jwt-secret-not-a-real-one",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "VLM_TEST_INVOICE": str(INVOICE),
            "PYTHONUNBUFFERED": "1",
        }
        self.port = port
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def cli(self, *args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    def start(self, name: str, *args: str) -> None:
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.home / "airflow.db", timeout=30) as db:
            return db.execute(sql, params).fetchall()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.home.glob("*.log"))


def _wait(what: str, check: Callable[[], Any], airflow: Airflow, timeout: float) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}\n{airflow.logs()}")


@pytest.fixture
def airflow(tmp_path: Path) -> Iterator[Airflow]:
    instance = Airflow(tmp_path)
    try:
        yield instance
    finally:
        instance.stop_all()


def _trigger_rows(airflow: Airflow) -> list[tuple[Any, ...]]:
    return airflow.query("select id, classpath, kwargs, triggerer_id from trigger")


def _deadline(kwargs: str) -> float:
    data = json.loads(kwargs)
    found: list[float] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "deadline" and isinstance(value, (int, float)):
                    found.append(float(value))
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    assert len(found) == 1, kwargs
    return found[0]


def test_triggerer_killed_mid_wait(airflow: Airflow, start_devserver: Any) -> None:
    assert INVOICE.exists()
    with start_devserver("--port", "0", "--processing-time", "25", "--api-key", SECRET) as server:
        airflow.cli("db", "migrate")
        airflow.cli(
            "connections",
            "add",
            "vlm_default",
            "--conn-type",
            "vlm",
            "--conn-host",
            server.base_url,
            "--conn-password",
            SECRET,
        )
        airflow.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(airflow.port))
        airflow.start("scheduler", "scheduler", "--skip-serve-logs")
        airflow.start("dag-processor", "dag-processor")
        airflow.start("triggerer", "triggerer", "--skip-serve-logs")

        _wait(
            "the DAG to be parsed",
            lambda: airflow.query("select 1 from dag where dag_id='vlm_e2e'"),
            airflow,
            90,
        )
        airflow.cli("dags", "trigger", "vlm_e2e")

        first = _wait(
            "the task to defer and a triggerer to take the trigger",
            lambda: [r for r in _trigger_rows(airflow) if r[3] is not None],
            airflow,
            90,
        )[0]
        trigger_id, classpath, kwargs, first_triggerer = first
        assert classpath == "airflow_provider_vlm.triggers.prediction.PredictionTrigger"
        assert SECRET not in repr(airflow.query("select * from trigger"))
        deadline = _deadline(kwargs)

        airflow.kill("triggerer")  # SIGKILL, mid-wait: the prediction takes 25 s
        airflow.start("triggerer-2", "triggerer", "--skip-serve-logs")
        taken = _wait(
            "a new triggerer to take over the trigger",
            lambda: [
                r
                for r in _trigger_rows(airflow)
                if r[0] == trigger_id and r[3] not in (None, first_triggerer)
            ],
            airflow,
            60,
        )[0]
        assert _deadline(taken[2]) == deadline  # the restart neither reset nor extended the wait

        _wait(
            "the run to succeed",
            lambda: airflow.query("select 1 from dag_run where dag_id='vlm_e2e' and state='success'"),
            airflow,
            120,
        )
        ((try_number, state),) = airflow.query(
            "select try_number, state from task_instance where dag_id='vlm_e2e'"
        )
        assert (try_number, state) == (1, "success")
        stats = server.stats()
        assert stats["predictions_created"] == 1, stats
        assert SECRET not in airflow.logs()
