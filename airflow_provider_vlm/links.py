"""The "VLM prediction" extra link on GenerateOperator and PredictionSensor tasks.

In Airflow 3 ``get_link`` runs on the worker when the task finishes and the result is stored as
XCom, so it reads the ``prediction_id`` XCom and the connection's ``dashboard_url`` there; the
API server never opens the connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_provider_vlm._compat import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

#: XCom key every operator here pushes right after submitting (and again on a re-attach).
PREDICTION_ID_KEY = "prediction_id"


def prediction_url(dashboard_url: str | None, prediction_id: Any) -> str:
    """Empty when unknown: the UI hides empty links."""
    if not dashboard_url or not prediction_id or not isinstance(prediction_id, str):
        return ""
    return f"{dashboard_url.rstrip('/')}/predictions/{quote(prediction_id, safe='')}"


def pushed_prediction_id(ti_key: TaskInstanceKey) -> str | None:
    """The ``prediction_id`` XCom of this task instance, or None when it never submitted.

    Asked as "every value under the key for this task" first: that question answers an empty list
    where a plain lookup of a missing XCom logs ``XCom not found`` as an error, which read as a
    fault in every task that failed before submitting.
    """
    from airflow.sdk.execution_time.xcom import XCom  # the same on every line; loaded when a link is asked

    pushed = XCom.get_all(
        key=PREDICTION_ID_KEY, dag_id=ti_key.dag_id, task_id=ti_key.task_id, run_id=ti_key.run_id
    )
    if not pushed:
        return None
    if ti_key.map_index is None or ti_key.map_index < 0:
        value = pushed[0]
    else:  # a mapped task: some instance pushed, ask for this one's own value
        value = XCom.get_value(ti_key=ti_key, key=PREDICTION_ID_KEY)
    return value if isinstance(value, str) and value else None


class VlmPredictionLink(BaseOperatorLink):
    """The prediction in the dashboard: the ``dashboard_url`` extra, else the public app when the
    connection is the public API; an empty link (the UI shows no button) for any other server."""

    name = "VLM prediction"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow_provider_vlm.hooks.vlm import VlmHook

        prediction_id = pushed_prediction_id(ti_key)
        if not prediction_id:
            return ""
        conn_id = getattr(operator, "vlm_conn_id", VlmHook.default_conn_name)
        return prediction_url(VlmHook(conn_id).dashboard_url(), prediction_id)
