"""Real Airflow processes on loopback: api-server, scheduler, dag-processor and triggerer.

Used by the end-to-end test and by the benchmarks, so that "a real Airflow" means the same thing
in both: SQLite, LocalExecutor, 127.0.0.1 and free ports, the connection stored in the metadata
DB, each process in its own session (killable with its children) and logging to a file.
Scheduler and triggerer run with ``--skip-serve-logs``: their log servers would bind 0.0.0.0.
"""

from __future__ import annotations

import contextlib
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalAirflow:
    """One throwaway ``AIRFLOW_HOME`` and the processes started in it."""

    def __init__(
        self, home: Path, dags_folder: Path, *, parallelism: int = 2, extra_env: dict[str, str] | None = None
    ) -> None:
        self.home = home
        self.port = free_port()
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            # A deployment puts the DAG bundle on sys.path (the example DAGs import vlm_demo).
            "PYTHONPATH": os.pathsep.join(filter(None, [str(dags_folder), os.environ.get("PYTHONPATH")])),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            # SQLite's 5 s default busy timeout lets a loaded machine crash the scheduler with
            # "database is locked" while another process writes; wait for the lock instead.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db?timeout=60",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": "local-jwt-secret-not-a-real-one",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def cli(self, *args: str, timeout: float = 300) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args[:2])} failed:\n{proc.stdout}\n{proc.stderr}")
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

    def start_all(self, base_url: str, api_key: str) -> None:
        """Migrate the DB, store the ``vlm_default`` connection in it, start the four processes."""
        self.cli("db", "migrate")
        self.cli(
            "connections", "add", "vlm_default", "--conn-type", "vlm",
            "--conn-host", base_url, "--conn-password", api_key,
        )  # fmt: skip
        self.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.port))
        self.start("scheduler", "scheduler", "--skip-serve-logs")
        self.start("dag-processor", "dag-processor")
        self.start("triggerer", "triggerer", "--skip-serve-logs")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal a process and its children; SIGKILL if a gentler signal is ignored."""
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.home / "airflow.db", timeout=30) as db:
            return db.execute(sql, params).fetchall()

    def logs(self, chars: int = 3000) -> str:
        return "\n".join(p.read_text(errors="replace")[-chars:] for p in self.home.glob("*.log"))

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
        """Poll ``check`` until it returns something truthy; the logs go into the timeout error."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with contextlib.suppress(sqlite3.OperationalError):  # the DB may not exist yet
                value = check()
                if value:
                    return value
            time.sleep(interval)
        raise TimeoutError(f"timed out waiting for {what}\n{self.logs()}")


@contextlib.contextmanager
def running_airflow(
    home: Path, dags_folder: Path, base_url: str, api_key: str, **kwargs: Any
) -> Iterator[LocalAirflow]:
    airflow = LocalAirflow(home, dags_folder, **kwargs)
    try:
        airflow.start_all(base_url, api_key)
        yield airflow
    finally:
        airflow.stop_all()
