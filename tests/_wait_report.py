"""``pytest --wait-report``: wall time against CPU time per test directory, to tell waiting apart.

A test's wall time on a shared machine says little; what it waits for (the dev server's simulated
processing, polling intervals, Airflow's loops) is its wall time minus the CPU it used. The CPU
is that of the test process's whole tree (the dev servers, warm harness servers and Airflow
processes it started, and their reaped children), read from ``/proc`` through psutil before and
after each test. Session-scoped set-up counts towards the first test that asks for it.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

OPTION = "--wait-report"
#: Tests listed by how long they waited.
TOP = 20


def tree_cpu_seconds() -> float:
    """User + system CPU of this process and every live descendant, each with its reaped children."""
    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


@dataclass
class Timing:
    wall: float = 0.0
    cpu: float = 0.0
    tests: int = 0

    @property
    def waiting(self) -> float:
        return max(self.wall - self.cpu, 0.0)


class WaitReport:
    """Times each test (set-up, call and teardown) and prints the tables at the end of the session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.per_test: dict[str, Timing] = {}
        self.per_dir: dict[str, Timing] = defaultdict(Timing)
        self.start = (time.monotonic(), tree_cpu_seconds(), os.getloadavg())

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, None, None]:
        wall, cpu = time.monotonic(), tree_cpu_seconds()
        yield
        timing = Timing(time.monotonic() - wall, max(tree_cpu_seconds() - cpu, 0.0), 1)
        self.per_test[item.nodeid] = timing
        folder = str(Path(item.nodeid.split("::")[0]).parent)
        total = self.per_dir[folder]
        total.wall, total.cpu, total.tests = total.wall + timing.wall, total.cpu + timing.cpu, total.tests + 1

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        wall0, cpu0, load0 = self.start
        wall, cpu, load = time.monotonic() - wall0, tree_cpu_seconds() - cpu0, os.getloadavg()
        write = terminalreporter.write_line
        terminalreporter.section("wall and CPU per directory (--wait-report)")
        write(f"{'directory':<28} {'tests':>5} {'wall s':>8} {'CPU s':>8} {'waiting s':>9}")
        for folder, t in sorted(self.per_dir.items(), key=lambda kv: -kv[1].wall):
            write(f"{folder:<28} {t.tests:>5} {t.wall:>8.0f} {t.cpu:>8.0f} {t.waiting:>9.0f}")
        write(f"{'session':<28} {len(self.per_test):>5} {wall:>8.0f} {cpu:>8.0f} {max(wall - cpu, 0):>9.0f}")
        write(f"load average at start {load0[0]:.1f} {load0[1]:.1f}, at end {load[0]:.1f} {load[1]:.1f}")
        write(f"\nthe {TOP} tests that waited longest (wall - CPU):")
        ranked = sorted(self.per_test.items(), key=lambda kv: -kv[1].waiting)[:TOP]
        for nodeid, t in ranked:
            write(f"{t.waiting:7.1f} s waiting {t.wall:7.1f} s wall {t.cpu:6.1f} CPU-s  {nodeid}")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(OPTION, action="store_true", help="print wall and CPU time per test directory")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption(OPTION):
        config.pluginmanager.register(WaitReport(config.rootpath), "vlm-wait-report")
