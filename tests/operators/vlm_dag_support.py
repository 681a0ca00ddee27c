"""Shared by the DAG-level tests: where the real invoices are and how a test DAG is run."""

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

INVOICES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "invoices"
INVOICE = INVOICES / "zugferd" / "correct" / "XML-Rechnung__FX__EN16931_Einfach.pdf"
MAPPED = [
    INVOICES / "zugferd" / "correct" / "XML-Rechnung__FX__EN16931_Miete.pdf",
    INVOICES / "zugferd" / "correct" / "XML-Rechnung__FX__EN16931_Rabatte.pdf",
    INVOICES / "invoice2data" / "AmazonWebServices.pdf",
]

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
