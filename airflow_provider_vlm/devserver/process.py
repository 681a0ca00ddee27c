"""Run the dev server as a child process on a free loopback port (demo, benchmarks, tests)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

READY_PREFIX = "VLM dev server ready: "


@dataclass
class RunningServer:
    base_url: str
    process: subprocess.Popen[str]

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the server has used so far (Linux ``/proc``)."""
        with open(f"/proc/{self.process.pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        return self.process.returncode


def start(*args: str, start_timeout: float = 30.0) -> RunningServer:
    """Start ``python -m airflow_provider_vlm.devserver --port 0 ARGS`` and wait for its ready line."""
    argv = args if "--port" in args else ("--port", "0", *args)
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_vlm.devserver", *argv],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    assert process.stdout is not None
    stdout = process.stdout
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(start_timeout)
    line = lines[0].strip() if lines else ""
    if not line.startswith(READY_PREFIX):
        process.kill()
        process.wait()
        raise RuntimeError(f"dev server did not start (exit {process.returncode}); first line: {line!r}")
    # Keep draining stdout (an --access-log goes there): a full pipe would stall the server.
    threading.Thread(target=_drain, args=(stdout,), daemon=True).start()
    return RunningServer(line[len(READY_PREFIX) :], process)


def _drain(stream: Iterator[str]) -> None:
    for _ in stream:
        pass


@contextlib.contextmanager
def running(*args: str) -> Iterator[RunningServer]:
    server = start(*args)
    try:
        yield server
    finally:
        server.stop()
