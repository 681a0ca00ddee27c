"""``tests/dags/_harness.py``'s child, but the run has no logical date, as the UI and REST API allow.

``dag.test()`` gives a run the current time as its logical date unless told ``logical_date=None``;
this driver tells it so, with ``run_after`` from ``VLM_TEST_RUN_AFTER``, and refuses to run where
the demo package ``vlm_demo`` is importable: the DAG under test must stand on the provider alone.
Not a test module (no ``test_`` prefix).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dags"))

import _harness


def main(argv: list[str]) -> int:
    if importlib.util.find_spec("vlm_demo") is not None:
        print("vlm_demo is importable here: the DAG would not be tested alone", file=sys.stderr)
        return 3
    from airflow.sdk import DAG

    run_after = datetime.fromisoformat(os.environ["VLM_TEST_RUN_AFTER"])
    original = DAG.test

    def test_without_logical_date(self: Any, **kwargs: Any) -> Any:
        return original(self, logical_date=None, run_after=run_after, **kwargs)

    DAG.test = test_without_logical_date  # type: ignore[method-assign]
    return _harness._main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
