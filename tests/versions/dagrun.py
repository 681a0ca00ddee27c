"""Child process of the version suite: every ``dag.test()`` of the suite in one Airflow process.

Usage: ``python dagrun.py SPEC_JSON``, where the spec is ``{"folder", "admin_url", "runs":
[{"dag_id", "conf", "faults"}]}``. One process migrates the metadata DB and runs the DAGs one
after another (Airflow's in-process API server starts once, not once per DAG). Before each run
the dev server's counters are reset and the run's faults set; after it, one line
``VLM-VERSIONS-RESULT {json}`` carries the run's state, task instances, XComs and the dev server's
stats, read back by the main suite's harness (``tests/dags/_harness.py``, which knows where each line
keeps what).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# The main suite's dag.test() harness (the standard library, Airflow and the provider only) finds
# the DagBag of this line and reads a run back from the metadata DB.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dags"))
from _harness import collect, dagbag  # test_examples.py parses the example DAGs with dagbag too

MARKER = "VLM-VERSIONS-RESULT "


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
