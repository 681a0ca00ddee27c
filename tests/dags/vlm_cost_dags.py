"""DAGs of the cost and privacy tests (``tests/operators/test_cost_dags.py``).

``vlm_cost_budget_night``: a nightly batch under ``max_credits``, read from a Variable (default
10). When the batch stops on its budget, ``raise_budget`` (it runs only then) keeps a copy of the
night's first summary and results, and raises the Variable as an operator would; the test then
clears the run, which must go on with the night. Paths and the Variable's name come from the
environment the test sets: ``VLM_COST_SOURCE``, ``VLM_COST_OUTPUT``, ``VLM_COST_BUDGET_VAR``.

``vlm_cost_budget_flex``: the same night at the ``flex`` tier under ``max_credits=10``, no Clear:
it stops on its budget after as many invoices as flex pays for.

``vlm_cost_metadata``: one prediction through the connection ``vlm_private`` (the test defines
it, with ``allow_training`` off and ``environment`` ``prod``) with the operator's own choices on
top; the config and metadata handed to the billed call are pushed to XCom ``sent`` as well. A
second task uses the connection's choices alone.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Variable, get_current_context, task

from airflow_provider_vlm.client import Prediction, VlmClient
from airflow_provider_vlm.operators._submission import Submission
from airflow_provider_vlm.operators.batch import GenerateBatchOperator
from airflow_provider_vlm.operators.generate import GenerateOperator

SOURCE = os.environ.get("VLM_COST_SOURCE", "missing-folder")
OUTPUT = os.environ.get("VLM_COST_OUTPUT", "missing-output")
BUDGET_VAR = os.environ.get("VLM_COST_BUDGET_VAR", "vlm_cost_night_credits")
#: Enough for the whole night: 30 one-page invoices at 2 credits each (standard, detail auto).
RAISED_BUDGET = "60"
INVOICE = os.environ.get("VLM_TEST_INVOICE", "missing.pdf")
START = datetime(2026, 1, 1)


class _RecordingSubmission(Submission):
    """Pushes what the billed call is given (config, metadata) to XCom ``sent``, then makes it."""

    def create(
        self, client: VlmClient, source: Mapping[str, Any], *, batch: bool, idempotency_key: str | None
    ) -> Prediction:
        get_current_context()["ti"].xcom_push(
            key="sent", value={"config": self.config, "metadata": self.metadata}
        )
        return super().create(client, source, batch=batch, idempotency_key=idempotency_key)


class RecordingGenerateOperator(GenerateOperator):
    def submission(self) -> Submission:
        base = super().submission()
        return _RecordingSubmission(**{f.name: getattr(base, f.name) for f in fields(base)})


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START, catchup=False, tags=["vlm-cost-test"])


with _dag("vlm_cost_budget_night"):
    extract = GenerateBatchOperator(
        task_id="extract",
        domain="document.invoice",
        source=SOURCE,
        pattern="*.pdf",
        output_path=f"{OUTPUT}/night",
        max_credits=f"{{{{ var.value.get('{BUDGET_VAR}', '10') }}}}",
        max_active_submissions=4,
        deferrable=True,
        poll_interval=0.3,
        max_poll_interval=1.0,
        retries=0,
    )

    @task(trigger_rule="all_failed")
    def raise_budget() -> None:
        """What the team does after a budget stop: look at the night so far, raise the budget."""
        night = Path(OUTPUT) / "night"
        for name in ("summary.json", "results.jsonl"):
            shutil.copy(night / name, Path(OUTPUT) / f"stopped-{name}")
        Variable.set(BUDGET_VAR, RAISED_BUDGET)

    extract >> raise_budget()


with _dag("vlm_cost_budget_flex"):
    GenerateBatchOperator(
        task_id="extract",
        domain="document.invoice",
        source=SOURCE,
        pattern="*.pdf",
        output_path=f"{OUTPUT}/flex",
        service_tier="flex",
        max_credits=10,
        max_active_submissions=4,
        deferrable=True,
        poll_interval=0.3,
        max_poll_interval=1.0,
        retries=0,
    )


with _dag("vlm_cost_metadata"):
    RecordingGenerateOperator(
        task_id="extract",
        domain="document.invoice",
        file=INVOICE,
        vlm_conn_id="vlm_private",
        environment="staging",  # over the connection's prod
        service_tier="flex",
        confidence=True,
        grounding=True,
        max_credits=5,
        deferrable=False,
        poll_interval=0.3,
    )
    # The connection's choices alone: no tier, no metadata of the task's own.
    GenerateOperator(
        task_id="extract_with_connection_defaults",
        domain="document.invoice",
        file=INVOICE,
        vlm_conn_id="vlm_private",
        deferrable=False,
        poll_interval=0.3,
    )


with _dag("vlm_cost_single_over_budget"):
    # One page of document.invoice at the standard tier is 2 credits: over a budget of half a credit.
    GenerateOperator(
        task_id="extract",
        domain="document.invoice",
        file=INVOICE,
        max_credits=0.5,
        deferrable=False,
        retries=2,
    )
