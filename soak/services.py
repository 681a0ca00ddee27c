"""The infrastructure around Airflow: a throwaway PostgreSQL cluster, Redis and an S3 server.

Each service runs on 127.0.0.1 on a free port, in its own session (so that stopping it stops its
children), logs to a file in the run's directory, and is waited on until it answers.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.cluster import free_port


def wait_until(what: str, check: Callable[[], bool], timeout: float, log: Path | None = None) -> None:
    """Poll ``check`` until it is true; the tail of ``log`` goes into the timeout error."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(Exception):  # not up yet (SystemExit: it never will be)
            if check():
                return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise TimeoutError(f"timed out waiting for {what}\n{tail}")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Service:
    """One background process with its log file."""

    name: str
    argv: Sequence[str]
    log: Path
    env: dict[str, str] | None = None
    user: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        argv = list(self.argv)
        if self.user is not None:
            argv = ["runuser", "-u", self.user, "--", *argv]
        sink = self.log.open("ab")
        self.process = subprocess.Popen(
            argv, stdout=sink, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        sink.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)


def _pg_bin(name: str) -> str:
    """Debian keeps the server programs out of PATH, under /usr/lib/postgresql/<version>/bin."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version_key)
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (Debian: apt-get install postgresql)")
    return path


def _version_key(path: str) -> tuple[int, ...]:
    version = path.split("/postgresql/")[1].split("/")[0]
    return tuple(int(p) for p in version.split(".") if p.isdigit())


class Postgres:
    """A throwaway cluster in a temporary directory, trust auth on 127.0.0.1 only.

    PostgreSQL refuses to run as root: as root the cluster belongs to the ``postgres`` user that
    Debian's package creates, and its programs run through ``runuser``.
    """

    def __init__(self, logs: Path) -> None:
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.dir = Path(tempfile.mkdtemp(prefix="soak-pg-"))
        # The server writes its log where the postgres user may write; it is copied to ``logs`` at stop.
        self.log = self.dir / "postgres.log"
        self.setup_log = logs / "postgres-setup.log"
        self.saved_log = logs / "postgres.log"
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/airflow"

    def _run(self, *argv: str) -> None:
        cmd = ["runuser", "-u", self.user, "--", *argv] if self.user else list(argv)
        with self.setup_log.open("ab") as sink:
            subprocess.run(cmd, stdout=sink, stderr=subprocess.STDOUT, check=True, timeout=120)

    def start(self) -> None:
        self.log.touch()
        if self.user:
            uid = pwd.getpwnam(self.user).pw_uid
            os.chown(self.dir, uid, -1)
            os.chown(self.log, uid, -1)
        data = self.dir / "data"
        self._run(_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c max_connections=300 -c fsync=off"
        self._run(_pg_bin("pg_ctl"), "-D", str(data), "-l", str(self.log), "-o", options, "-w", "start")
        self._run(_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "airflow")

    def stop(self) -> None:
        data = self.dir / "data"
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError):
                self._run(_pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        with contextlib.suppress(OSError):
            shutil.copyfile(self.log, self.saved_log)
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        import psycopg2

        with (
            contextlib.closing(
                psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="airflow")
            ) as db,
            db.cursor() as cur,
        ):
            cur.execute(sql, params)
            return list(cur.fetchall())


def start_redis(logs: Path) -> tuple[Service, int]:
    """``redis-server`` without persistence; Debian: apt-get install redis-server."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(binary):
        raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    service = Service("redis", argv, logs / "redis.log")
    service.start()
    wait_until("Redis", lambda: port_open(port), 30, service.log)
    return service, port


def start_s3(logs: Path) -> tuple[Service, str]:
    """moto in server mode: an S3 endpoint on loopback with the soak's bucket in memory."""
    port = free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "soak", "AWS_SECRET_ACCESS_KEY": "soak"}
    service = Service("s3", argv, logs / "s3.log", env=env)
    service.start()
    wait_until("the S3 server (moto)", lambda: port_open(port), 60, service.log)
    return service, f"http://127.0.0.1:{port}"
