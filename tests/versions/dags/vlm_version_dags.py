"""DAGs of the version suite, run with ``dag.test()`` on every Airflow line.

``vlm_docs_defer_and_sense`` is written as the quickstart and the operators page show it: a
deferring ``GenerateOperator``, and a submit without waiting followed by a deferrable
``PredictionSensor``. ``vlm_crash_after_submit`` holds one task per way of waiting (deferrable,
blocking, batch, ``@task.vlm``) whose first try dies right after its prediction was submitted; the
retry must re-attach and create nothing new. ``vlm_feedback_after_crash`` sends two corrections
with ``VlmFeedbackOperator``, whose first try dies right after the first feedback was sent: the
retry finds it in this line's record and sends only the second.

Inputs come from environment variables the suite sets (``VLM_TEST_INVOICE``,
``VLM_TEST_INVOICES``), so the file holds no machine paths and parses without them.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, get_current_context, task
from airflow.sdk.bases.decorator import task_decorator_factory

from airflow_provider_vlm.client import Prediction
from airflow_provider_vlm.decorators.vlm import _VlmDecoratedOperator
from airflow_provider_vlm.invoices import Correction
from airflow_provider_vlm.operators.batch import GenerateBatchOperator
from airflow_provider_vlm.operators.feedback import FeedbackRecord, VlmFeedbackOperator
from airflow_provider_vlm.operators.generate import GenerateOperator
from airflow_provider_vlm.sensors.prediction import PredictionSensor

INVOICE = os.environ.get("VLM_TEST_INVOICE", "missing.pdf")
INVOICES = json.loads(os.environ.get("VLM_TEST_INVOICES", '["missing.pdf"]'))

START = pendulum.datetime(2026, 1, 1, tz="UTC")
#: Deferring at once (defer_after=0): these DAGs test the deferred path with fast predictions.
FAST: dict[str, Any] = {"poll_interval": 0.3, "max_poll_interval": 1.0, "defer_after": 0}
RETRYING: dict[str, Any] = {"retries": 2, "retry_delay": timedelta(seconds=1)}


class WorkerCrash(RuntimeError):
    """Stands for a worker dying: nothing catches it, so the task retries."""


def _first_try() -> bool:
    return int(get_current_context()["ti"].try_number) == 1


def _crash_on_first_try() -> None:
    if _first_try():
        raise WorkerCrash("simulated worker crash after submitting")


class CrashAfterSubmitOperator(GenerateOperator):
    """Dies on its first try right after submitting: where it would defer, or return its result."""

    def defer(self, **kwargs: Any) -> Any:
        _crash_on_first_try()
        return super().defer(**kwargs)

    def _result(self, prediction: Prediction) -> dict[str, Any]:
        _crash_on_first_try()
        return super()._result(prediction)


class CrashAfterSubmitBatchOperator(GenerateBatchOperator):
    """Dies on its first try once every input was submitted, where it would defer."""

    def defer(self, **kwargs: Any) -> Any:
        _crash_on_first_try()
        return super().defer(**kwargs)


class _CrashAfterSubmitDecorated(_VlmDecoratedOperator):
    def defer(self, **kwargs: Any) -> Any:
        _crash_on_first_try()
        return super().defer(**kwargs)


class CrashAfterFirstFeedbackOperator(VlmFeedbackOperator):
    """Dies on its first try right after its first feedback was sent and recorded."""

    def _send_once(self, correction: Correction, record: FeedbackRecord) -> tuple[str, str]:
        sent = super()._send_once(correction, record)
        if sent[1] == "sent" and _first_try():
            raise WorkerCrash("simulated worker crash after sending a feedback")
        return sent


def crashing_vlm(**kwargs: Any) -> Any:
    """``@task.vlm`` whose first try dies right after submitting."""
    return task_decorator_factory(
        decorated_operator_class=_CrashAfterSubmitDecorated, multiple_outputs=False, **kwargs
    )


with DAG("vlm_docs_defer_and_sense", schedule=None, start_date=START, catchup=False):
    GenerateOperator(
        task_id="extract",
        media="document",
        domain="document.invoice",
        file=INVOICE,
        deferrable=True,
        **FAST,
    )
    submit = GenerateOperator(
        task_id="submit",
        media="document",
        domain="document.invoice",
        file=INVOICE,
        wait_for_completion=False,
    )
    submit >> PredictionSensor(
        task_id="wait",
        prediction_id="{{ ti.xcom_pull(task_ids='submit', key='prediction_id') }}",
        deferrable=True,
        defer_after=0,
        poke_interval=0.3,
    )


with DAG("vlm_crash_after_submit", schedule=None, start_date=START, catchup=False):
    CrashAfterSubmitOperator(
        task_id="deferrable", domain="document.invoice", file=INVOICE, deferrable=True, **FAST, **RETRYING
    )
    CrashAfterSubmitOperator(
        task_id="blocking", domain="document.invoice", file=INVOICE, deferrable=False, **FAST, **RETRYING
    )
    CrashAfterSubmitBatchOperator(
        task_id="batch", domain="document.invoice", inputs=INVOICES, deferrable=True, **FAST, **RETRYING
    )

    @crashing_vlm(domain="document.invoice", deferrable=True, **FAST, **RETRYING)
    def taskflow(path: str) -> str:
        return path

    taskflow(INVOICE)


with DAG("vlm_feedback_after_crash", schedule=None, start_date=START, catchup=False):
    first = GenerateOperator(task_id="first", domain="document.invoice", file=INVOICE, **FAST)
    second = GenerateOperator(task_id="second", domain="document.invoice", file=INVOICE, **FAST)

    @task
    def review(first: dict[str, Any], second: dict[str, Any]) -> list[dict[str, Any]]:
        """A reviewer's two decisions on the two predictions, as the review step hands them on."""
        return [
            Correction(INVOICE, first["id"], "corrected", {"total_amount": 1.5}, "anna", "misread").to_dict(),
            Correction(INVOICE, second["id"], "rejected", {}, "anna", "duplicate").to_dict(),
        ]

    CrashAfterFirstFeedbackOperator(
        task_id="feedback", corrections=review(first.output, second.output), **RETRYING
    )
