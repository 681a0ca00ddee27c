"""Fixtures of the version suite, which runs inside one Airflow line's environment.

The driver (``run.py``) passes everything through ``VLM_VERSIONS_*`` variables: the dev server's
URL and key, the sample invoices, the built wheel. Only pytest, Airflow and the installed provider
are importable here: of the main suite's helpers only the ``dag.test()`` harness, which needs no
more, and nothing of the dev extra. ``AIRFLOW_HOME`` is a fresh temporary folder with a SQLite
database, set before anything imports Airflow.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
DAGS = HERE / "dags"
# The main suite's dag.test() harness (the standard library, Airflow and the provider only): its
# DagResult, and the DB read-back that dagrun.py prints.
sys.path.insert(0, str(HERE.parent / "dags"))
import _harness  # noqa: E402

EXAMPLES = HERE.parents[1] / "example_dags"
MARKER = "VLM-VERSIONS-RESULT "
#: An output line that names an exception (plain and rich tracebacks end with one), colours removed.
EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Crash): ")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _setting(name: str) -> str:
    value = os.environ.get(f"VLM_VERSIONS_{name}")
    if not value:
        raise pytest.UsageError(
            "the version suite runs through its driver: `make versions` (tests/versions/run.py)"
        )
    return value


HOME = Path(tempfile.mkdtemp(prefix="vlm-versions-home-"))
os.environ["AIRFLOW_HOME"] = str(HOME)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{HOME}/airflow.db"
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"


@dataclass(frozen=True)
class Server:
    """The dev server the driver started (the child resets its counters and sets its faults)."""

    base_url: str
    api_key: str


@dataclass
class DagResult(_harness.DagResult):
    """One ``dag.test()`` run as read back from the metadata DB, its output and the server's stats."""

    stats: dict[str, Any] = field(default_factory=dict)

    def tail(self, lines: int = 80) -> str:
        """The task states, then the last lines of the output (each cut to 300 characters)."""
        states = ", ".join(
            f"{t['task_id']}[{t['map_index']}]={t['state']}/try {t['try_number']}" for t in self.tasks
        )
        output = [ANSI.sub("", line) for line in self.output.splitlines()]
        # A task that failed early has its exception far above the last lines: name them first.
        errors = list(dict.fromkeys(line[:300] for line in output if EXCEPTION_LINE.match(line)))
        last = [line[:300] for line in output[-lines:]]
        return "\n".join([f"tasks: {states}", *errors[:20], "...", *last])


@pytest.fixture(scope="session")
def server() -> Server:
    return Server(_setting("BASE_URL"), _setting("API_KEY"))


@pytest.fixture(scope="session")
def invoices() -> list[str]:
    paths: list[str] = json.loads(_setting("INVOICES"))
    return paths


@pytest.fixture(scope="session")
def wheel() -> Path:
    return Path(_setting("WHEEL"))


@pytest.fixture(scope="session")
def dags_folder() -> Path:
    """One DAGs folder as a deployment has it: the suite's DAGs beside the example DAGs."""
    folder = HOME / "dags"
    folder.mkdir()
    for source in [
        *DAGS.glob("*.py"),
        *EXAMPLES.glob("*.py"),
        EXAMPLES / "vlm_demo",
        EXAMPLES / ".airflowignore",
    ]:
        (folder / source.name).symlink_to(source)
    return folder


#: The suite's ``dag.test()`` runs, with the dev server's faults for each.
RUNS: list[dict[str, Any]] = [
    {"dag_id": "vlm_docs_defer_and_sense"},
    {"dag_id": "vlm_crash_after_submit", "faults": {"processing_time": 2}},
    {"dag_id": "vlm_feedback_after_crash"},
    {"dag_id": "vlm_submit_then_sense"},  # "source" is set to the sample invoices' folder
]


@pytest.fixture(scope="session")
def dag_runs(server: Server, invoices: list[str], dags_folder: Path) -> dict[str, DagResult]:
    """Every run of ``RUNS`` by ``dag.test()``, in one child process with this line's Airflow.

    The first test that asks for it pays for it, under that test's pytest-timeout.
    """
    RUNS[-1]["conf"] = {"source": str(Path(invoices[0]).parent)}
    connection = {"conn_type": "vlm", "host": server.base_url, "password": server.api_key}
    env = {
        **os.environ,
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        # A deployment puts its DAGs folder on sys.path (the example DAGs import vlm_demo).
        "PYTHONPATH": str(dags_folder),
        "AIRFLOW_CONN_VLM_DEFAULT": json.dumps(connection),
        "VLM_TEST_INVOICE": invoices[0],
        "VLM_TEST_INVOICES": json.dumps(invoices[:2]),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    spec = {"folder": str(dags_folder), "admin_url": server.base_url, "runs": RUNS}
    proc = subprocess.run(
        [sys.executable, str(HERE / "dagrun.py"), json.dumps(spec)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    results: dict[str, DagResult] = {}
    current: list[str] = []
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            results[data["dag_id"]] = DagResult(
                returncode=proc.returncode,
                output="\n".join(current),
                state=data["state"],
                tasks=data["tasks"],
                xcoms=data["xcoms"],
                stats=data["stats"],
            )
            current = []
        else:
            current.append(line)
    missing = [run["dag_id"] for run in RUNS if run["dag_id"] not in results]
    assert not missing, f"no result for {missing} (exit {proc.returncode}):\n" + "\n".join(current[-150:])
    return results
