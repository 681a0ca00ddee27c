"""A warm Airflow process that forks one child per ``dag.test()`` run (a fork server).

A fresh ``python _harness.py`` pays about 10 CPU-seconds before its DAG starts: importing Airflow
(2-3 s) and, on the first call to Airflow's in-process execution API, Cadwyn building the API's
versioned routes (6 s). This server pays them once for one ``AIRFLOW_HOME`` and DAGs folder
(Airflow fixes both, and the ORM engine, at import time), then forks a child per run. The child is
what a fresh process with the run's environment would be: it sets that environment, sends its
stdout and stderr to the files the caller named, parses the DAG folder (DAG files read the
environment at parse time) and runs ``_harness._main``. The caller gets the child's pid at once
(to kill it on timeout) and its exit status when the server has reaped it.

Only the ``AIRFLOW_HOME``, DAGs folder and ``[section] key`` variables of the server's start
environment are fixed; a run that changes any of them goes to a fresh process instead
(``_harness.run_dag`` decides). This file is listed in ``.airflowignore``: it is a helper, not a DAG.

The server: ``python _warm.py SOCKET READY_FD`` with the base environment; it writes a line to
``READY_FD`` once warm and serves until its stdin closes. The test process's side is
``warm_run``: at most ``KEEP`` servers stay up, the least recently used idle one stops first.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: How many warm servers (each one Airflow process) stay up in one test process.
KEEP = 2
#: Variables read when Airflow or Python starts: a run that changes one needs a fresh process.
FIXED_PREFIXES = ("AIRFLOW__", "_AIRFLOW", "PYTHON")
FIXED_NAMES = frozenset({"AIRFLOW_HOME", "AIRFLOW_CONFIG"})
#: What every run imports, imported once by the server.
WARM_MODULES = (
    "airflow",
    "airflow.sdk",
    "airflow.sdk.definitions.dag",
    "airflow.sdk.execution_time.supervisor",
    "airflow.sdk.execution_time.task_runner",
    "airflow_provider_vlm.decorators",
    "airflow_provider_vlm.operators.batch",
    "airflow_provider_vlm.operators.generate",
    "airflow_provider_vlm.sensors.prediction",
    "airflow_provider_vlm.triggers.prediction",
)

Run = Callable[[list[str], float], tuple[int, str, str]]


def fixed(env: dict[str, str]) -> dict[str, str]:
    """The part of ``env`` a warm server cannot change for a run (read at import time)."""
    return {k: v for k, v in env.items() if k.startswith(FIXED_PREFIXES) or k in FIXED_NAMES}


# --- the test process's side ------------------------------------------------------------------


class Server:
    """One warm server process, started on first use."""

    def __init__(self, base_env: dict[str, str]) -> None:
        self.base_env = base_env
        self.folder = Path(tempfile.mkdtemp(prefix="vlm-warm-"))
        self.socket = str(self.folder / "socket")
        self.in_flight = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._start_lock = threading.Lock()
        self._runs = itertools.count()

    def start(self) -> None:
        with self._start_lock:
            if self.proc is not None:
                return
            ready_r, ready_w = os.pipe()
            with open(self.folder / "server.log", "wb") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, __file__, self.socket, str(ready_w)],
                    env=self.base_env,
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(ready_w,),
                )
            os.close(ready_w)
            with os.fdopen(ready_r) as ready:
                if ready.readline() != "ready\n":  # an empty line: it exited while warming up
                    raise RuntimeError(f"the warm Airflow process did not start:\n{self.log()}")

    def log(self) -> str:
        return (self.folder / "server.log").read_text(errors="replace")[-5000:]

    def run(self, args: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, str]:
        """Fork a child for ``_harness.py ARGS`` with ``env``; its exit code, stdout and stderr."""
        n = next(self._runs)
        out, err = self.folder / f"{n}.out", self.folder / f"{n}.err"
        request = {"argv": args, "env": env, "stdout": str(out), "stderr": str(err)}
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.connect(self.socket)
                conn.sendall(json.dumps(request).encode() + b"\n")
                with conn.makefile("r") as reader:
                    pid = json.loads(reader.readline() or "null")
                    if pid is None:
                        raise RuntimeError(f"the warm Airflow process is gone:\n{self.log()}")
                    conn.settimeout(timeout)
                    try:
                        line = reader.readline()
                    except BaseException as exc:  # the run's bound, or pytest-timeout's: stop the run
                        with contextlib.suppress(ProcessLookupError):
                            os.killpg(pid["pid"], signal.SIGKILL)
                        if isinstance(exc, TimeoutError):
                            raise subprocess.TimeoutExpired(
                                [__file__, *args], timeout, _read(out), _read(err)
                            ) from None
                        raise
            if not line:
                raise RuntimeError(f"the warm Airflow process is gone:\n{self.log()}")
            return int(json.loads(line)["rc"]), _read(out), _read(err)
        finally:
            out.unlink(missing_ok=True)
            err.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # the server kills what still runs and exits
            self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


_lock = threading.Lock()
_servers: dict[tuple[str, ...], Server] = {}  # least recently used first


def warm_run(home: Path, dags_folder: Path, base_env: dict[str, str], run_env: dict[str, str]) -> Run | None:
    """A runner on the warm server for ``home`` and ``dags_folder``; ``None`` when ``run_env``
    changes what a warm server has fixed (then the caller starts a fresh process)."""
    if fixed(run_env) != fixed(base_env):
        return None
    key = (str(home), str(dags_folder), json.dumps(sorted(fixed(base_env).items())))
    with _lock:
        server = _servers.pop(key, None)
        if server is None:
            while len(_servers) >= KEEP:
                idle = next((k for k, s in _servers.items() if s.in_flight == 0), None)
                if idle is None:
                    break  # every server has a run in flight: one more for now
                _servers.pop(idle).stop()
            server = Server(base_env)
        _servers[key] = server
        server.in_flight += 1

    def run(args: list[str], timeout: float) -> tuple[int, str, str]:
        try:
            server.start()
            return server.run(args, run_env, timeout)
        finally:
            with _lock:
                server.in_flight -= 1

    return run


@atexit.register
def _stop_all() -> None:
    with _lock:
        while _servers:
            _servers.popitem()[1].stop()


# --- the server's side ------------------------------------------------------------------------


def warm_up() -> None:
    """Import what every run imports and build the in-process execution API's routes once."""
    import asyncio
    import importlib

    import _harness
    import httpx

    for name in WARM_MODULES:  # importing airflow sets up this home's configuration, logging, ORM
        importlib.import_module(name)
    from airflow.sdk.execution_time import supervisor

    _harness.dagbag_class()
    app = supervisor.in_process_api_server().app  # the object every child's dag.test() uses

    async def first_request() -> None:
        # Cadwyn generates the versioned routers on an app's first request. A throwaway loop and
        # no lifespan: the child starts the API's loop thread and lifespan itself (threads do not
        # survive a fork), and an unknown path touches no database.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://warm-up.invalid.") as client:
            await client.get("/execution/warm-up")

    asyncio.run(first_request())


def _child(
    conn: socket.socket, listener: socket.socket, wakeup: tuple[int, int], request: dict[str, Any]
) -> None:
    """In the forked child: become the run's process, run it, exit with its return code."""
    rc = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in wakeup:
            os.close(fd)
        listener.close()
        conn.close()
        os.setpgid(0, 0)  # a timeout kills the run and whatever it started, not the server
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(out, fd)
            os.close(out)
        from airflow import settings

        # The engine's pool is the server's: drop it without closing (SQLAlchemy's rule after a fork).
        settings.engine.dispose(close=False)
        import _harness

        sys.argv = [_harness.__file__, *request["argv"]]
        rc = _harness._main(request["argv"])
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        import logging

        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)


def serve(path: str, ready_fd: int) -> None:
    """Accept runs on the Unix socket ``path`` until stdin closes; fork one child per run."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    with os.fdopen(ready_fd, "w") as ready:
        ready.write("ready\n")
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the selector through the wakeup fd
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "child")
    selector.register(sys.stdin, selectors.EVENT_READ, "stdin")
    running: dict[int, socket.socket] = {}
    while True:
        for key, _ in selector.select():
            if key.data == "stdin" and not sys.stdin.readline():
                for pid in running:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
                return
            if key.data == "child":
                _drain(wake_r)
            if key.data == "accept":
                conn, _ = listener.accept()
                with conn.makefile("r") as reader:
                    request = json.loads(reader.readline())
                pid = os.fork()
                if pid == 0:
                    _child(conn, listener, (wake_r, wake_w), request)
                with contextlib.suppress(OSError):  # as the child does: whichever runs first
                    os.setpgid(pid, pid)
                running[pid] = conn
                conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            _reap(running)


def _drain(fd: int) -> None:
    with contextlib.suppress(BlockingIOError):
        while os.read(fd, 512):
            pass


def _reap(running: dict[int, socket.socket]) -> None:
    """Send each finished child's exit status to its caller."""
    while running:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = running.pop(pid, None)
        if conn is not None:
            with conn:
                rc = os.waitstatus_to_exitcode(status)
                with contextlib.suppress(OSError):  # the caller gave up (timeout) and closed its end
                    conn.sendall(json.dumps({"rc": rc}).encode() + b"\n")


if __name__ == "__main__":
    warm_up()
    serve(sys.argv[1], int(sys.argv[2]))
