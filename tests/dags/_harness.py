"""Run one test DAG with ``dag.test()`` in a process of its own with its own ``AIRFLOW_HOME``.

A process per run keeps the test session's Airflow imports (which fix ``AIRFLOW_HOME`` at import
time) away from the metadata DB the DAG runs against. The process is forked from a warm server
for that home and DAGs folder (``_warm.py``: Airflow imported, the execution API built), or is a
fresh ``python _harness.py`` when the run sets Airflow configuration of its own. Either way it
prints one line ``VLM-RESULT {json}``: run state, task instances, XComs, task state store rows
and rendered template fields, read from the metadata DB after the run. ``--clear-rerun`` then
clears the run's task instances (a user's Clear: ``clear_number`` + 1) and runs them again, the
way ``dag.test()`` would.

This file is listed in ``.airflowignore``: it is a helper, not a DAG.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DAGS = Path(__file__).resolve().parent
MARKER = "VLM-RESULT "
#: The connection's Base URL where a process runs no DAG (migrating, a warm server's start).
UNUSED_URL = "http://127.0.0.1:9"
#: Set (to anything) in the test process: every run in a fresh process, no warm server.
FRESH = "VLM_HARNESS_FRESH"


def airflow_env(
    home: Path, base_url: str, api_key: str, extra: dict[str, str] | None = None, dags_folder: Path = DAGS
) -> dict[str, str]:
    conn = {
        "conn_type": "vlm",
        "host": base_url,
        "password": api_key,
        "extra": {"dashboard_url": "https://dashboard.example", "max_retries": 3},
    }
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        # A deployment puts the DAG bundle on sys.path (the example DAGs import vlm_demo).
        "PYTHONPATH": os.pathsep.join(filter(None, [str(dags_folder), os.environ.get("PYTHONPATH")])),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_VLM_DEFAULT": json.dumps(conn),
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra or {})
    return env


_template_lock = threading.Lock()
_template: list[Path] = []


def migrate(home: Path) -> None:
    """A migrated metadata DB in ``home``: a copy of one ``airflow db migrate`` per test process.

    Migrating takes about 10 s; every home starts from the same empty, migrated DB, so the first
    call migrates a template and each call copies its ``airflow.db``.
    """
    with _template_lock:
        if not _template:
            template = Path(tempfile.mkdtemp(prefix="vlm-airflow-template-"))
            atexit.register(shutil.rmtree, template, ignore_errors=True)
            subprocess.run(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                env=airflow_env(template, UNUSED_URL, "unused"),
                check=True,
                capture_output=True,
                timeout=300,
            )
            _template.append(template)
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_template[0] / "airflow.db", home / "airflow.db")


@dataclass
class DagResult:
    returncode: int
    output: str
    state: str | None = None
    clear_number: int | None = None
    tasks: list[dict[str, Any]] = field(default_factory=list)
    xcoms: list[dict[str, Any]] = field(default_factory=list)
    task_state: list[dict[str, Any]] = field(default_factory=list)
    #: Below Airflow 3.3: the ``vlm_state.*`` Variables left after the run (the record's home there).
    variables: list[str] = field(default_factory=list)
    rendered: list[dict[str, Any]] = field(default_factory=list)

    def task(self, task_id: str, map_index: int = -1) -> dict[str, Any]:
        found = [t for t in self.tasks if t["task_id"] == task_id and t["map_index"] == map_index]
        assert found, f"no task instance {task_id}[{map_index}] in {self.tasks}\n{self.tail()}"
        return found[0]

    def xcom(self, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        for x in self.xcoms:
            if x["task_id"] == task_id and x["key"] == key and x["map_index"] == map_index:
                return x["value"]
        return None

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def run_dag(
    home: Path,
    base_url: str,
    api_key: str,
    dag_id: str,
    *,
    env: dict[str, str] | None = None,
    conf: dict[str, Any] | None = None,
    clear_rerun: bool = False,
    timeout: float = 150.0,
    dags_folder: Path = DAGS,
) -> DagResult:
    """``dag.test()`` of ``dag_id`` from ``dags_folder`` in a child process; the DB read back."""
    args = [dag_id, "--conf", json.dumps(conf or {}), "--dags", str(dags_folder)]
    if clear_rerun:
        args.append("--clear-rerun")
    run_env = airflow_env(home, base_url, api_key, env, dags_folder)
    from _warm import warm_run

    server_env = airflow_env(home, UNUSED_URL, "unused", None, dags_folder)
    warm = None if os.environ.get(FRESH) else warm_run(home, dags_folder, server_env, run_env)
    if warm is not None:
        returncode, stdout, stderr = warm(args, timeout)
    else:  # the run sets Airflow configuration of its own: a fresh process reads it at import
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), *args],
            env=run_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        returncode, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    result = DagResult(returncode, stdout + stderr)
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            result.state = data["state"]
            result.clear_number = data["clear_number"]
            result.tasks = data["tasks"]
            result.xcoms = data["xcoms"]
            result.task_state = data["task_state"]
            result.variables = data.get("variables", [])
            result.rendered = data["rendered"]
    return result


# --- the child process -------------------------------------------------------------------------


def _value(raw: Any) -> Any:
    """A DB value as JSON where it is JSON (XCom and rendered fields are stored serialized)."""
    if isinstance(raw, bytes):
        raw = raw.decode()
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def collect(dag_id: str, run_id: str) -> dict[str, Any]:
    """The run as read back from the metadata DB: its state, task instances, XComs, records."""
    from airflow.models.dagrun import DagRun
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.variable import Variable
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        dr = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        ).all()
        xcoms = session.scalars(
            select(XComModel).where(XComModel.dag_id == dag_id, XComModel.run_id == run_id)
        ).all()
        rows = _task_state_rows(session, dag_id, run_id)
        variables = session.scalars(select(Variable.key).where(Variable.key.like("vlm_state.%"))).all()

        rendered = session.scalars(
            select(RenderedTaskInstanceFields).where(
                RenderedTaskInstanceFields.dag_id == dag_id, RenderedTaskInstanceFields.run_id == run_id
            )
        ).all()

        return {
            "state": str(dr.state) if dr else None,
            "clear_number": dr.clear_number if dr else None,
            "tasks": [
                {
                    "task_id": ti.task_id,
                    "map_index": ti.map_index,
                    "state": str(ti.state),
                    "try_number": ti.try_number,
                }
                for ti in tis
            ],
            "xcoms": [
                {"task_id": x.task_id, "map_index": x.map_index, "key": x.key, "value": _value(x.value)}
                for x in xcoms
            ],
            "task_state": [
                {"task_id": r.task_id, "map_index": r.map_index, "key": r.key, "value": _value(r.value)}
                for r in rows
            ],
            "variables": list(variables),
            "rendered": [
                {"task_id": r.task_id, "map_index": r.map_index, "fields": _value(r.rendered_fields)}
                for r in rendered
            ],
        }


def _task_state_rows(session: Any, dag_id: str, run_id: str) -> list[Any]:
    """``task_state_store`` rows of the run (Airflow 3.3; none below it, where Variables hold the record)."""
    from sqlalchemy import select

    from airflow_provider_vlm._compat import HAS_TASK_STATE_STORE

    if not HAS_TASK_STATE_STORE:
        return []
    from airflow.models.task_state_store import TaskStateStoreModel

    return list(
        session.scalars(
            select(TaskStateStoreModel).where(
                TaskStateStoreModel.dag_id == dag_id, TaskStateStoreModel.run_id == run_id
            )
        ).all()
    )


def _clear_and_rerun(dag: Any, dag_id: str, run_id: str) -> None:
    """A user's Clear of every task of the run, then the same loop as ``dag.test()``."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance, clear_task_instances
    from airflow.sdk.definitions.dag import _run_task
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import select

    with create_session() as session:
        tis = list(
            session.scalars(
                select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
            ).all()
        )
        clear_task_instances(tis, session, dag_run_state=DagRunState.RUNNING)

    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    with create_session() as session:
        dr = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        dr.dag = scheduler_dag
        dr.state = DagRunState.RUNNING
        session.commit()
        for _ in range(200):
            if dr.state != DagRunState.RUNNING:
                break
            session.expire_all()
            schedulable, _callback = dr.update_state(session=session)
            for ti in schedulable:
                if ti.state != TaskInstanceState.UP_FOR_RESCHEDULE:
                    ti.try_number += 1
                ti.state = TaskInstanceState.SCHEDULED
            session.commit()
            scheduled = [
                ti for ti in dr.get_task_instances(session=session) if ti.state == TaskInstanceState.SCHEDULED
            ]
            for ti in scheduled:
                _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)


def dagbag_class() -> Any:
    """Airflow's ``DagBag``: from 3.2 in ``airflow.dag_processing``, before in ``airflow.models``."""
    from airflow_provider_vlm._compat import AIRFLOW_VERSION

    if AIRFLOW_VERSION.release >= (3, 2):
        from airflow.dag_processing.dagbag import DagBag
    else:
        from airflow.models.dagbag import DagBag
    return DagBag


def dagbag(folder: str) -> Any:
    return dagbag_class()(dag_folder=folder)


def _main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("dag_id")
    parser.add_argument("--conf", default="{}")
    parser.add_argument("--clear-rerun", action="store_true")
    parser.add_argument("--dags", default=str(DAGS))
    args = parser.parse_args(argv)

    from airflow_provider_vlm._compat import AIRFLOW_VERSION

    if AIRFLOW_VERSION.release >= (3, 3):
        from airflow.configuration import conf as airflow_conf
        from airflow.observability.metrics import stats_utils
        from airflow.sdk.observability import stats

        # dag.test() runs tasks in this process, without the task runner's start-up: set up
        # Airflow's metrics as the task runner does (nothing is sent unless [metrics] statsd_on).
        # Below 3.3 the metrics client sets itself up on first use.
        stats.initialize(
            factory=stats_utils.get_stats_factory(),
            export_legacy_names=airflow_conf.getboolean("metrics", "legacy_names_on"),
        )
    bag = dagbag(args.dags)
    if bag.import_errors:
        print(f"import errors: {bag.import_errors}", file=sys.stderr)
        return 2
    dag = bag.get_dag(args.dag_id)
    dr = dag.test(run_conf=json.loads(args.conf))
    if args.clear_rerun:
        _clear_and_rerun(dag, args.dag_id, dr.run_id)
    print(MARKER + json.dumps(collect(args.dag_id, dr.run_id), default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
