"""Shared by the DAG-level tests: which invoices they submit and how a test DAG is run."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

DAGS = Path(__file__).resolve().parents[1] / "dags"
if str(DAGS) not in sys.path:
    sys.path.insert(0, str(DAGS))

import _harness  # noqa: E402

from tests.invoices import generated  # noqa: E402

# The generated set (tests/invoices.py): the Factur-X invoice 471102, and three others to map over.
INVOICE = generated().primary.path
MAPPED = generated().mapped

RunDag = Callable[..., _harness.DagResult]


def runner(home: Path, base_url: str, api_key: str, bad_file: Path) -> RunDag:
    def run(dag_id: str, **kwargs: Any) -> _harness.DagResult:
        env = {
            "VLM_TEST_INVOICE": str(INVOICE),
            "VLM_TEST_INVOICES": json.dumps([str(p) for p in MAPPED]),
            "VLM_TEST_BAD_FILE": str(bad_file),
            **kwargs.pop("env", {}),
        }
        return _harness.run_dag(home, base_url, api_key, dag_id, env=env, **kwargs)

    return run
