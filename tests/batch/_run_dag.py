"""Child process of the batch tests: ``dag.test()`` one DAG of ``dags/``, print what the DB holds.

A fresh process per run keeps the test session's Airflow imports (which fix ``AIRFLOW_HOME`` at
import time) away from the metadata DB the DAG runs against. It prints one line
``VLM-RESULT {json}``: run state, task instances, XComs and task state store rows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DAGS = Path(__file__).resolve().parent / "dags"
MARKER = "VLM-RESULT "


def _value(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def collect(dag_id: str, run_id: str) -> dict[str, Any]:
    from airflow.models.dagrun import DagRun
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.models.taskinstance import TaskInstance
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
        rows = session.scalars(
            select(TaskStateStoreModel).where(
                TaskStateStoreModel.dag_id == dag_id, TaskStateStoreModel.run_id == run_id
            )
        ).all()
        return {
            "state": str(dr.state) if dr else None,
            "tasks": [{"task_id": t.task_id, "state": str(t.state), "try_number": t.try_number} for t in tis],
            "xcoms": [{"task_id": x.task_id, "key": x.key, "value": _value(x.value)} for x in xcoms],
            "task_state": [{"task_id": r.task_id, "key": r.key, "value": _value(r.value)} for r in rows],
        }


def clear_and_rerun(dag: Any, dag_id: str, run_id: str) -> None:
    """A user's Clear of the run (``clear_number`` + 1), then the same loop as ``dag.test()``."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dags"))
    from _harness import _clear_and_rerun  # the DAG tests' helper: one definition of "a Clear"

    _clear_and_rerun(dag, dag_id, run_id)


def main(dag_id: str, clear_rerun: bool = False) -> int:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    if bag.import_errors:
        print(f"import errors: {bag.import_errors}", file=sys.stderr)
        return 2
    dag = bag.get_dag(dag_id)
    dr = dag.test()
    if clear_rerun:
        clear_and_rerun(dag, dag_id, dr.run_id)
    print(MARKER + json.dumps(collect(dag_id, dr.run_id), default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], clear_rerun="--clear-rerun" in sys.argv[2:]))
