"""CPU seconds of a process and everything it started (Linux ``/proc``).

The dev server reads scans in a pool of worker processes, each running Tesseract as a child of
its own, so the server process's own CPU time misses nearly all of the OCR work. This sums user
and system time, plus the time of reaped children, over the server and its living descendants:
a worker's Tesseract runs end up in that worker's children time once they have exited.
"""

from __future__ import annotations

import os
from pathlib import Path


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process (``/proc/<pid>/task/*/children`` is not always built in)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    return parents


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants, reaped children included."""
    parents = _parents()
    tree, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    ticks = 0
    for member in tree:
        fields = _stat(member)
        if fields is not None:
            # utime, stime, cutime, cstime (fields 14-17 of proc(5), counted after the name).
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")
