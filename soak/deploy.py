"""The deployment: PostgreSQL, Redis, Celery workers, two triggerers, the dev server, an S3 bucket.

Airflow's processes are started by ``tests.cluster.LocalAirflow`` (the launcher the end-to-end
tests and benchmarks use), pointed at PostgreSQL and, for ``executor="CeleryExecutor"``, at
Redis; the dev server by ``airflow_provider_vlm.devserver.process``. Everything binds 127.0.0.1.
``Deployment`` is a context manager: leaving it (normally, on an error or on Ctrl-C) stops every
process it started and removes the database cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from airflow_provider_vlm.devserver import process as devserver
from soak.services import Postgres, start_redis, start_s3, wait_until
from tests.cluster import LocalAirflow, free_port

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "sk-soak-not-a-real-key"
BUCKET = "soak-invoices"
S3_CONN = "aws_default"


@dataclass
class Settings:
    """What to bring up; the defaults are ``make soak``'s."""

    workdir: Path
    executor: str = "CeleryExecutor"
    workers: int = 2
    triggerers: int = 2
    storage: str = "s3"  # or "file": a local folder instead of the S3 bucket
    processing_time: float = 60.0
    seed: int = 2026
    error_rate: float = 0.20
    rate_limit_rate: float = 0.10
    drop_rate: float = 0.05
    parallelism: int = 8


class SoakAirflow(LocalAirflow):
    """``LocalAirflow`` on PostgreSQL; queries go to the cluster instead of a SQLite file."""

    def __init__(self, home: Path, dags_folder: Path, pg: Postgres, **kwargs: Any) -> None:
        super().__init__(home, dags_folder, **kwargs)
        self.pg = pg

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.pg.query(sql.replace("?", "%s"), *params)

    def start(self, name: str, *args: str) -> None:
        """As ``LocalAirflow.start``, with the process's name as its Airflow hostname."""
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "airflow", *args],
            env={**self.env, "SOAK_PROCESS": name},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


class Deployment(contextlib.ExitStack):
    """Brings everything up in ``__enter__``-order, tears it down in reverse."""

    def __init__(self, settings: Settings, dags_folder: Path) -> None:
        super().__init__()
        self.s = settings
        self.dags_folder = dags_folder
        self.logs = settings.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.devserver_port = free_port()
        self.devserver_state = settings.workdir / "devserver.sqlite"
        self.devserver: devserver.RunningServer | None = None
        self.s3_endpoint: str | None = None
        self.stats_before_restarts: list[dict[str, Any]] = []
        self.airflow: SoakAirflow

    # --- bring-up -----------------------------------------------------------------------------

    def up(self, extra_env: dict[str, str] | None = None) -> None:
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        self.callback(signal.signal, signal.SIGTERM, previous)
        pg = Postgres(self.logs)
        self.callback(pg.stop)
        pg.start()
        self._say("PostgreSQL", f"127.0.0.1:{pg.port}", pg.log)
        print(f"  {'':<24} {'':<32} (copied to {pg.saved_log} at the end)", flush=True)
        env: dict[str, str] = {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.url,
            "AIRFLOW__CORE__EXECUTOR": self.s.executor,
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            # A survivor takes a dead triggerer's triggers over after this many seconds.
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
            "AIRFLOW__CORE__DEFAULT_POOL_TASK_SLOT_COUNT": "64",
            # A deployment retries tasks (examples without default_args get these): a killed
            # worker's task is retried, not failed for good.
            "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "3",
            "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "20",
            # Two triggerers (and two workers) on one host: each reports its own name as hostname.
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "soak.hostname.process_name",
            **(extra_env or {}),
        }
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        if self.s.executor == "CeleryExecutor":
            redis, port = start_redis(self.logs)
            self.callback(redis.stop)
            self._say("Redis", f"127.0.0.1:{port}", redis.log)
            env["AIRFLOW__CELERY__BROKER_URL"] = f"redis://127.0.0.1:{port}/0"
            env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + pg.url
            env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(max(2, self.s.parallelism // self.s.workers))
        if self.s.storage == "s3":
            s3, endpoint = start_s3(self.logs)
            self.callback(s3.stop)
            self.s3_endpoint = endpoint
            self._say("S3 (moto)", endpoint, s3.log)
            env.update({"AWS_ACCESS_KEY_ID": "soak", "AWS_SECRET_ACCESS_KEY": "soak"})
        self.start_devserver()
        self.callback(self.stop_devserver)
        print(f"  {'Dev server':<24} {self.base_url:<32} state: {self.devserver_state}", flush=True)

        home = self.s.workdir / "airflow"
        home.mkdir(parents=True, exist_ok=True)
        self.airflow = SoakAirflow(home, self.dags_folder, pg, parallelism=self.s.parallelism, extra_env=env)
        self.callback(self.airflow.stop_all)
        self.airflow.cli("db", "migrate")
        self.airflow.cli(
            "connections", "add", "vlm_default", "--conn-type", "vlm",
            "--conn-host", self.base_url, "--conn-password", API_KEY,
        )  # fmt: skip
        if self.s3_endpoint:
            extra = json.dumps({"endpoint_url": self.s3_endpoint, "region_name": "us-east-1"})
            self.airflow.cli(
                "connections", "add", S3_CONN, "--conn-type", "aws",
                "--conn-login", "soak", "--conn-password", "soak", "--conn-extra", extra,
            )  # fmt: skip
        self.airflow.cli("pools", "set", "vlm_api", "16", "VLM Run API calls")
        a = self.airflow
        a.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(a.port))
        a.start("scheduler", "scheduler", "--skip-serve-logs")
        a.start("dag-processor", "dag-processor")
        for n in range(1, self.s.triggerers + 1):
            self.start_triggerer(n)
        if self.s.executor == "CeleryExecutor":
            for n in range(1, self.s.workers + 1):
                self.start_worker(n)
        self.wait_healthy()

    def start_triggerer(self, n: int) -> None:
        self.airflow.start(f"triggerer-{n}", "triggerer", "--skip-serve-logs")

    def start_worker(self, n: int) -> None:
        concurrency = self.airflow.env["AIRFLOW__CELERY__WORKER_CONCURRENCY"]
        self.airflow.start(
            f"worker-{n}", "celery", "worker", "--skip-serve-logs",
            "--celery-hostname", f"worker{n}@soak", "--concurrency", concurrency,
        )  # fmt: skip

    def wait_healthy(self, timeout: float = 240) -> None:
        """api-server answers; scheduler, dag-processor and every triggerer heartbeat; workers ready."""
        a = self.airflow
        wait_until(
            "the api-server", lambda: httpx.get(f"{a.env['AIRFLOW__API__BASE_URL']}/api/v2/monitor/health").is_success,
            timeout, a.home / "api-server.log",
        )  # fmt: skip
        wanted = {"SchedulerJob": 1, "DagProcessorJob": 1, "TriggererJob": self.s.triggerers}
        wait_until(
            f"live jobs {wanted}", lambda: self.live_jobs() == wanted, timeout, a.home / "scheduler.log"
        )
        for name in a.procs:
            if name.startswith("worker-"):
                log = a.home / f"{name}.log"

                def ready(name: str = name, log: Path = log) -> bool:
                    if a.procs[name].poll() is not None:
                        raise SystemExit(f"{name} exited at start; see {log}")
                    return b" ready." in log.read_bytes()

                wait_until(f"Celery {name}", ready, timeout, log)
        for name in sorted(a.procs):
            self._say(f"Airflow {name}", f"pid {a.procs[name].pid}", a.home / f"{name}.log")

    def live_jobs(self) -> dict[str, int]:
        rows = self.airflow.query(
            "select job_type, count(*) from job where state='running'"
            " and latest_heartbeat > now() - interval '10 seconds' group by job_type"
        )
        return {str(kind): int(n) for kind, n in rows}

    # --- the dev server ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.devserver_port}/v1"

    def start_devserver(self) -> None:
        s = self.s
        self.devserver = devserver.start(
            "--port", str(self.devserver_port), "--api-key", API_KEY,
            "--state", str(self.devserver_state), "--processing-time", str(s.processing_time),
            "--seed", str(s.seed), "--error-rate", str(s.error_rate), "--error-status", "503",
            "--rate-limit-rate", str(s.rate_limit_rate), "--retry-after", "2",
            "--drop-rate", str(s.drop_rate),
        )  # fmt: skip

    def stop_devserver(self) -> None:
        if self.devserver is not None:
            with contextlib.suppress(httpx.HTTPError):
                self.stats_before_restarts.append(self.dev_stats())
            self.devserver.stop()
            self.devserver = None

    def restart_devserver(self) -> None:
        self.stop_devserver()
        self.start_devserver()

    def dev_stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.base_url}/_dev/stats", timeout=10).json())

    def set_faults(self, **body: Any) -> None:
        httpx.post(f"{self.base_url}/_dev/faults", json=body, timeout=10).raise_for_status()

    # --- Airflow -------------------------------------------------------------------------------

    def restart(self, name: str, *args: str) -> None:
        self.airflow.kill(name, signal.SIGTERM)
        self.airflow.start(name, *args)

    def _say(self, what: str, where: str, log: Path) -> None:
        print(f"  {what:<24} {where:<32} log: {log}", flush=True)


def _raise_interrupt(signum: int, frame: object) -> None:
    """SIGTERM tears down like Ctrl-C does."""
    raise KeyboardInterrupt


def wait_for(what: str, check: Any, timeout: float, interval: float = 1.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(Exception):
            value = check()
            if value:
                return value
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")
