"""Child process of the version suite: every ``dag.test()`` of the suite in one Airflow process.

Usage: ``python dagrun.py SPEC_JSON``, where the spec is ``{"folder", "admin_url", "runs":
[{"dag_id", "conf", "faults"}]}``. One process migrates the metadata DB and runs the DAGs one
after another (Airflow's in-process API server starts once, not once per DAG). Before each run
the dev server's counters are reset and the run's faults set; after it, one line
``VLM-VERSIONS-RESULT {json}`` carries the run's state, task instances, XComs and the dev server's
stats. Only what every Airflow 3 line has is used (no task state store: below 3.3 it is absent).
"""

from __future__ import annotations

import json
import sys
from typing import Any

MARKER = "VLM-VERSIONS-RESULT "


def dagbag(folder: str) -> Any:
    """A ``DagBag`` of ``folder``: Airflow 3.0 keeps the class in ``airflow.models``."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag(dag_folder=folder)


def _value(raw: Any) -> Any:
    if isinstance(raw, bytes):
        raw = raw.decode()
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def collect(dag_id: str, run_id: str) -> dict[str, Any]:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        ).all()
        xcoms = session.scalars(
            select(XComModel).where(XComModel.dag_id == dag_id, XComModel.run_id == run_id)
        ).all()
        return {
            "state": str(run.state) if run else None,
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
        }


def main(argv: list[str]) -> int:
    import httpx
    from airflow.utils import db

    spec = json.loads(argv[0])
    admin = httpx.Client(base_url=spec["admin_url"], timeout=10.0)
    db.upgradedb()  # a fresh SQLite file: creates every table, as `airflow db migrate` does
    bag = dagbag(spec["folder"])
    if bag.import_errors:
        print(f"import errors: {bag.import_errors}", file=sys.stderr)
        return 2
    for run_spec in spec["runs"]:
        dag_id = run_spec["dag_id"]
        admin.post("/_dev/reset", json={"state": False}).raise_for_status()
        admin.post("/_dev/faults", json=run_spec.get("faults", {})).raise_for_status()
        print(f"=== dag.test() of {dag_id}", flush=True)
        run = bag.get_dag(dag_id).test(run_conf=run_spec.get("conf", {}))
        result = collect(dag_id, run.run_id)
        result["dag_id"] = dag_id
        result["stats"] = admin.get("/_dev/stats").raise_for_status().json()
        print(MARKER + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
