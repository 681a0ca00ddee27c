"""DAGs driven by the batch tests (``dag.test()`` in a fresh process, see ``tests/batch/conftest.py``).

Inputs come from environment variables the tests set, so the file holds no machine paths:
``VLM_BATCH_SOURCE`` (a folder of generated documents), ``VLM_BATCH_INPUTS`` (a JSON list of
inputs), ``VLM_BATCH_OUTPUT`` (the output folder).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, get_current_context, task
from pydantic import BaseModel, Field

from airflow_provider_vlm.client import Prediction, VlmClient
from airflow_provider_vlm.operators._submission import Submission
from airflow_provider_vlm.operators.batch import GenerateBatchOperator

SOURCE = os.environ.get("VLM_BATCH_SOURCE", "missing-folder")
INPUTS = json.loads(os.environ.get("VLM_BATCH_INPUTS", '["missing.pdf"]'))
OUTPUT = os.environ.get("VLM_BATCH_OUTPUT", "missing-output")
CRASH_AFTER = int(os.environ.get("VLM_BATCH_CRASH_AFTER", "10"))

START = datetime(2026, 1, 1)
#: Deferring at once (defer_after=0): these DAGs test the deferred path with fast predictions.
FAST = {"poll_interval": 0.3, "max_poll_interval": 1.0, "defer_after": 0}
RETRYING = {"retries": 2, "retry_delay": timedelta(seconds=1)}
# The fault-mix tests inject a fault into 30-35 % of calls: a call then outlasts a budget of m
# retries with probability p ** (m + 1); 8 makes that about 1e-4 (docs/retries.md).
FAULT_BUDGET = {"max_retries": 8}
GENERIC = "document.receipt"


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START, catchup=False, tags=["vlm-batch-test"])


class StrictTotal(BaseModel):
    """A model the dev server's placeholder response (empty values: a total of 0) cannot satisfy."""

    total: float = Field(gt=0)


class WorkerCrash(RuntimeError):
    """Stands for a worker dying mid-batch: not a client error, so nothing catches it."""


class _CrashingSubmission(Submission):
    """On the first try, creates ``CRASH_AFTER`` predictions, then every further create crashes."""

    def create(
        self, client: VlmClient, source: Mapping[str, Any], *, batch: bool, idempotency_key: str | None
    ) -> Prediction:
        ti = get_current_context()["ti"]
        if ti.try_number == 1:
            counter = _CrashingSubmission.calls
            counter.append(1)
            if len(counter) > CRASH_AFTER:
                raise WorkerCrash("simulated worker crash in the middle of the batch")
        return super().create(client, source, batch=batch, idempotency_key=idempotency_key)

    calls: list[int] = []


class CrashingBatchOperator(GenerateBatchOperator):
    def submission(self) -> Submission:
        base = super().submission()
        return _CrashingSubmission(**{f: getattr(base, f) for f in base.__dataclass_fields__})


class LateFileBatchOperator(GenerateBatchOperator):
    """Drops one more document into the source folder right after the try defers: a file that
    lands while the batch waits."""

    def execute(self, context: Any) -> Any:
        try:
            return super().execute(context)
        finally:
            Path(SOURCE, "zz-late.txt").write_text("landed while the batch waited")


with _dag("vlm_batch_many"):
    GenerateBatchOperator(
        task_id="extract",
        domain=GENERIC,
        source=SOURCE,
        pattern="*.txt",
        output_path=OUTPUT,
        deferrable=True,
        max_active_submissions=8,
        max_concurrent_polls=20,
        **FAST,
        **RETRYING,
        **FAULT_BUDGET,
    )

with _dag("vlm_batch_listed"):

    @task
    def list_documents() -> list[str]:
        return sorted(entry.path for entry in os.scandir(SOURCE) if entry.name.endswith(".txt"))

    GenerateBatchOperator(
        task_id="extract",
        domain=GENERIC,
        inputs=list_documents(),
        deferrable=False,
        max_active_submissions=4,
        **FAST,
        **RETRYING,
    )

with _dag("vlm_batch_crash"):
    CrashingBatchOperator(
        task_id="extract",
        domain=GENERIC,
        source=SOURCE,
        pattern="*.txt",
        output_path=OUTPUT,
        deferrable=True,
        max_active_submissions=4,
        **FAST,
        **RETRYING,
    )

with _dag("vlm_batch_invoices"):
    common: dict[str, Any] = {"domain": "document.invoice", "inputs": INPUTS, "deferrable": True, **FAST}
    GenerateBatchOperator(task_id="strict", output_path=f"{OUTPUT}/strict", **common)
    # autocast: every completed invoice is also checked against document.invoice's schema
    GenerateBatchOperator(
        task_id="tolerant", output_path=f"{OUTPUT}/tolerant", max_failed_fraction=0.5, autocast=True, **common
    )

with _dag("vlm_batch_validated"):
    GenerateBatchOperator(
        task_id="extract",
        domain=GENERIC,
        source=SOURCE,
        pattern="*.txt",
        output_path=OUTPUT,
        response_model=StrictTotal,
        max_failed_fraction=1.0,
        deferrable=True,
        **FAST,
    )

with _dag("vlm_batch_flaky_retry"):
    # The crash of the first try makes the second one look up recorded predictions under faults.
    CrashingBatchOperator(
        task_id="extract",
        domain=GENERIC,
        source=SOURCE,
        pattern="*.txt",
        output_path=OUTPUT,
        deferrable=True,
        max_active_submissions=4,
        **FAST,
        **RETRYING,
        **FAULT_BUDGET,
    )

with _dag("vlm_batch_chaos"):
    # Faults on every call (tests/batch/test_batch_dags.py); retries only as a backstop.
    GenerateBatchOperator(
        task_id="extract",
        domain=GENERIC,
        source=SOURCE,
        pattern="*.txt",
        output_path=OUTPUT,
        deferrable=True,
        max_active_submissions=4,
        **FAST,
        **RETRYING,
        **FAULT_BUDGET,
    )

with _dag("vlm_batch_late_file"):
    LateFileBatchOperator(
        task_id="extract",
        domain=GENERIC,
        source=SOURCE,
        pattern="*.txt",
        output_path=OUTPUT,
        deferrable=True,
        **FAST,
    )
