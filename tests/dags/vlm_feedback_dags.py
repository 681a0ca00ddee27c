"""A DAG that sends reviewers' corrections back (``tests/operators/test_feedback_dags.py``).

The corrections come from the run's conf (``{"corrections": [Correction.to_dict(), ...]}``),
rendered as native objects; two tries with a short delay, so a test can fail the first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_vlm.operators.feedback import VlmFeedbackOperator

with DAG(
    "vlm_feedback",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,
    tags=["vlm-test"],
):
    VlmFeedbackOperator(
        task_id="send_feedback",
        corrections="{{ dag_run.conf['corrections'] }}",
        retries=1,
        retry_delay=timedelta(seconds=1),
    )
