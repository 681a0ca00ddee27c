"""The near-miss table (``_near_misses.py``) through every Airflow entry point of ``autocast``.

``vlm_autocast_near_misses`` has one ``GenerateOperator(autocast=True)`` per case (``op__<case>``);
two cases also go through ``@task.vlm`` (``decorated__<case>``) and through
``GenerateOperator(wait_for_completion=False) >> PredictionSensor(autocast=True)``
(``submit__<case>`` then ``sense__<case>``); ``GenerateBatchOperator(autocast=True)`` takes every
case in two batches, one per schema (``batch__invoice``, ``batch__constrained``). Each input is
the case's URL, whose response the test sets on the dev server first.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, task

from airflow_provider_vlm.operators.batch import GenerateBatchOperator
from airflow_provider_vlm.operators.generate import GenerateOperator
from airflow_provider_vlm.sensors.prediction import PredictionSensor

# Airflow puts the DAGs folder on sys.path; a bare DagBag (tests/test_dag_folders.py) does not.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))

from _near_misses import CASES, CONSTRAINED, DOMAIN

#: Deferring at once (defer_after=0): these DAGs test the deferred path with fast predictions.
FAST = {"poll_interval": 0.3, "max_poll_interval": 1.0, "defer_after": 0}
#: Cases that also go through ``@task.vlm`` and the sensor: one that passes, one that fails.
OTHER_ENTRY_POINTS = ("invoice_valid", "number_as_string")

with DAG(
    "vlm_autocast_near_misses",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["vlm-test"],
):
    for case in CASES:
        GenerateOperator(
            task_id=f"op__{case.name}",
            domain=DOMAIN,
            url=case.url,
            config=case.config,
            autocast=True,
            deferrable=False,
            **FAST,
        )

    for name in OTHER_ENTRY_POINTS:
        url = next(c.url for c in CASES if c.name == name)

        @task.vlm(task_id=f"decorated__{name}", domain=DOMAIN, autocast=True, deferrable=True, **FAST)
        def decorated(url: str = url) -> str:
            return url

        decorated()
        submit = GenerateOperator(
            task_id=f"submit__{name}", domain=DOMAIN, url=url, wait_for_completion=False
        )
        submit >> PredictionSensor(
            task_id=f"sense__{name}",
            prediction_id=f"{{{{ ti.xcom_pull(task_ids='submit__{name}', key='prediction_id') }}}}",
            autocast=True,
            deferrable=True,
            defer_after=0,
            poke_interval=0.3,
        )

    for name, schema in (("invoice", None), ("constrained", CONSTRAINED)):
        GenerateBatchOperator(
            task_id=f"batch__{name}",
            domain=DOMAIN,
            inputs=[c.url for c in CASES if c.schema == schema],
            config={"json_schema": schema} if schema else None,
            autocast=True,
            max_failed_fraction=1,
            deferrable=True,
            **FAST,
        )
