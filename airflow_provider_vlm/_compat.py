"""Every difference between the Airflow 3 lines this provider supports (3.0 to 3.3), in one place.

The rest of the package imports Airflow names that moved or arrived late from here, never with a
``try: import`` of its own. Each difference is named by the feature, with the line that brought it:

- 3.1: ``BaseHook`` and ``context_merge`` under ``airflow.sdk``; ``BaseHook.aget_connection`` (a
  trigger's non-blocking connection lookup); the human-in-the-loop operators of the standard
  provider (``HAS_HITL``: the invoice review in the UI; below it the review is a corrections file).
- 3.2: ``conf`` and the exceptions under ``airflow.sdk``; ``determine_kwargs`` in the Task SDK; the metrics path
  ``airflow.sdk.observability.stats``; the connection form read from ``get_provider_info()``
  (``connection_form`` adds the hook methods that 3.0 and 3.1 read instead).
- 3.3: ``task_state_store`` (the durable record's home: ``state_store.for_task`` picks Airflow
  Variables below it), ``retry_policy`` with ``ExceptionRetryPolicy``/``RetryRule`` (below it
  ``task_entry`` fails an error that retrying cannot fix at once, as ``AirflowFailException``),
  ``ResumableJobMixin`` (not used: our durable record covers the deferrable path too) and
  ``BaseTrigger.on_kill``, ``Connection.aextra_dejson``.

``docs/airflow-versions.md`` shows the same table for users.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from importlib.metadata import version as _dist_version
from typing import TYPE_CHECKING, Any, TypeVar

# The same on every line 3.0-3.3, imported here so the Airflow-internal paths are named once.
# (``airflow.sdk.execution_time.xcom.XCom`` is the same everywhere too.)
from airflow.sdk import BaseOperatorLink, ObjectStoragePath
from airflow.sdk.bases.decorator import DecoratedOperator, TaskDecorator, task_decorator_factory
from airflow.sdk.definitions._internal.types import SET_DURING_EXECUTION
from packaging.version import Version

log = logging.getLogger(__name__)

#: The installed Airflow, as a release (``3.2.2``), pre-release and local parts dropped.
AIRFLOW_VERSION = Version(Version(_dist_version("apache-airflow")).base_version)
AIRFLOW_3_1 = AIRFLOW_VERSION.release >= (3, 1)
AIRFLOW_3_2 = AIRFLOW_VERSION.release >= (3, 2)
AIRFLOW_3_3 = AIRFLOW_VERSION.release >= (3, 3)

#: ``context["task_state_store"]``: a per-task-instance store that survives retries (3.3).
HAS_TASK_STATE_STORE = AIRFLOW_3_3
#: ``retry_policy=`` on operators, ``ExceptionRetryPolicy`` and ``RetryRule`` (3.3).
HAS_RETRY_POLICY = AIRFLOW_3_3
#: ``airflow.sdk.ResumableJobMixin`` (3.3). Unused: it covers the blocking path only.
HAS_RESUMABLE_JOB_MIXIN = AIRFLOW_3_3
#: ``BaseTrigger.on_kill``: the triggerer tells a trigger that its task was killed (3.3).
HAS_TRIGGER_ON_KILL = AIRFLOW_3_3
#: ``airflow.providers.standard.operators.hitl`` (3.1): a person answers a task in the UI. Below
#: 3.1 importing it raises, so the invoice review uses a corrections file there.
HAS_HITL = AIRFLOW_3_1
#: Rendered fields stored again after the try (``overwrite_rtif_after_execution``). 3.0 sends
#: them after a try that failed too, when its API no longer finds the running try: the task
#: process ends in "Task Instance not found" (``dag.test()`` aborts the run). From 3.1 on.
OVERWRITE_RTIF_AFTER_EXECUTION = AIRFLOW_3_1

if TYPE_CHECKING or AIRFLOW_3_1:
    from airflow.sdk import BaseHook
    from airflow.sdk.definitions.context import context_merge
else:  # 3.0: outside the Task SDK
    from airflow.hooks.base import BaseHook
    from airflow.utils.context import context_merge

if TYPE_CHECKING or AIRFLOW_3_2:
    from airflow.sdk import conf
    from airflow.sdk.exceptions import (
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
    )
else:  # 3.0 and 3.1: outside the Task SDK
    from airflow.configuration import conf
    from airflow.exceptions import AirflowFailException, AirflowNotFoundException, AirflowSensorTimeout

if TYPE_CHECKING or HAS_RETRY_POLICY:
    from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryDecision, RetryRule
else:  # nothing below 3.3 may use them: ``retry_policy.py`` defines its policy on 3.3 only
    ExceptionRetryPolicy = RetryAction = RetryDecision = RetryRule = None

if TYPE_CHECKING or HAS_TASK_STATE_STORE:
    from airflow.sdk.execution_time.context import TaskStateStoreAccessor
else:

    class TaskStateStoreAccessor:
        """Absent below 3.3: nothing is an instance of it there."""


#: ``retention`` of a ``task_state_store`` value that never expires (3.3's ``NEVER_EXPIRE``).
NEVER_EXPIRE: timedelta = timedelta.max

__all__ = [
    "AIRFLOW_VERSION",
    "HAS_HITL",
    "HAS_RESUMABLE_JOB_MIXIN",
    "HAS_RETRY_POLICY",
    "HAS_TASK_STATE_STORE",
    "HAS_TRIGGER_ON_KILL",
    "NEVER_EXPIRE",
    "OVERWRITE_RTIF_AFTER_EXECUTION",
    "SET_DURING_EXECUTION",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "BaseHook",
    "BaseOperatorLink",
    "DecoratedOperator",
    "ExceptionRetryPolicy",
    "ObjectStoragePath",
    "RetryAction",
    "RetryDecision",
    "RetryRule",
    "TaskDecorator",
    "TaskStateStoreAccessor",
    "aget_connection",
    "callable_kwargs",
    "conf",
    "connection_form",
    "context_merge",
    "fail_fast",
    "hitl_timeout_kwargs",
    "stats",
    "task_decorator_factory",
    "task_entry",
]


async def aget_connection(conn_id: str) -> tuple[Any, dict[str, Any]]:
    """A connection and its extras, looked up without blocking the triggerer's event loop."""
    if AIRFLOW_3_3:  # Connection.aextra_dejson
        conn = await BaseHook.aget_connection(conn_id)
        return conn, await conn.aextra_dejson()
    if AIRFLOW_3_1:  # the lookup is async; the extras are parsed in place
        conn = await BaseHook.aget_connection(conn_id)
        return conn, conn.extra_dejson
    from asgiref.sync import sync_to_async

    conn = await sync_to_async(BaseHook.get_connection)(conn_id)
    return conn, conn.extra_dejson


def callable_kwargs(python_callable: Callable[..., Any], op_args: Any, context: Mapping[str, Any]) -> Any:
    """The keyword arguments a TaskFlow function takes from the context (3.2: ``determine_kwargs``)."""
    if AIRFLOW_3_2:
        from airflow.sdk.bases.decorator import determine_kwargs
    else:
        from airflow.utils.operator_helpers import determine_kwargs
    return determine_kwargs(python_callable, op_args, context)


def hitl_timeout_kwargs(hitl_operator: type, timeout: timedelta | None) -> dict[str, Any]:
    """How a human-in-the-loop operator is told how long to wait for its answer.

    The standard provider's newer releases take ``response_timeout``; those of 3.1's time read
    ``execution_timeout`` for it (newer ones still do, with a deprecation warning).
    """
    import inspect

    if "response_timeout" in inspect.signature(hitl_operator).parameters:
        return {"response_timeout": timeout}
    return {"execution_timeout": timeout}


def stats() -> Any:
    """Airflow's metrics client (``incr``, ``gauge``, ``timing``) on this line."""
    if AIRFLOW_3_2:
        from airflow.sdk.observability.stats import Stats
    else:
        from airflow.stats import Stats
    return Stats


F = TypeVar("F", bound=Callable[..., Any])


def fails_at_once(exc: BaseException) -> bool:
    """The error table (``errors.py`` ``task_retry``) says retrying cannot fix this error."""
    from airflow_provider_vlm.client.errors import TaskRetry

    return getattr(type(exc), "task_retry", None) is TaskRetry.FAIL


def fail_fast(method: F) -> F:
    """Wrap an operator's ``execute``/``execute_complete`` for the lines without ``retry_policy``.

    On 3.3 it returns the method unchanged: typed errors reach the ``retry_policy``. Below 3.3 it
    turns an error the error table marks "fail" (rejected key, wrong input, failed validation)
    into ``AirflowFailException``, so the task fails at once instead of spending its retries.
    """
    if HAS_RETRY_POLICY:
        return method

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except AirflowFailException:
            raise
        except Exception as exc:
            if not fails_at_once(exc):
                raise
            raise AirflowFailException(
                f"{type(exc).__name__}: {exc} (retrying will not help: failing without retries)"
            ) from exc

    return wrapper  # type: ignore[return-value]


def task_entry(method: F) -> F:
    """``fail_fast``, and below 3.3 the durable record's cleanup once the method returns.

    A return (not a deferral, not an error) means the task succeeded: its record in Airflow
    Variables is deleted then, as nothing will read it again. On 3.3 the record stays in
    ``task_state_store``, which Airflow keeps after success unless ``[state_store] clear_on_success``.
    """
    if HAS_TASK_STATE_STORE:
        return fail_fast(method)
    guarded = fail_fast(method)

    @functools.wraps(method)
    def wrapper(self: Any, context: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
        result = guarded(self, context, *args, **kwargs)
        from airflow_provider_vlm.state_store import cleanup_after_success

        cleanup_after_success(context)
        return result

    return wrapper  # type: ignore[return-value]


H = TypeVar("H", bound=type)

#: ``conn-fields`` JSON types -> the wtforms field 3.0 and 3.1 build their connection form from.
_FIELD_CLASSES = {"integer": "IntegerField", "boolean": "BooleanField"}


def connection_form(hook_class: H) -> H:
    """Give 3.0 and 3.1 the connection form that 3.2+ read from ``get_provider_info()``.

    Before 3.2 Airflow builds the form only from the hook's ``get_ui_field_behaviour`` and
    ``get_connection_form_widgets`` (deprecated in 3.3, so they are added below 3.2 only), made
    here from the same ``connection-types`` entry: one declaration of the form for every line.
    """
    if AIRFLOW_3_2:
        return hook_class
    from airflow_provider_vlm import get_provider_info

    (declared,) = get_provider_info()["connection-types"]
    behaviour = {key.replace("-", "_"): value for key, value in declared["ui-field-behaviour"].items()}

    def get_ui_field_behaviour() -> dict[str, Any]:
        return behaviour

    def get_connection_form_widgets() -> dict[str, Any]:
        import wtforms
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext

        widgets: dict[str, Any] = {}
        for name, field in declared["conn-fields"].items():
            kinds = field["schema"]["type"]
            kind = next((k for k in (kinds if isinstance(kinds, list) else [kinds]) if k != "null"), "string")
            field_class = getattr(wtforms, _FIELD_CLASSES.get(kind, "StringField"))
            options: dict[str, Any] = {"description": field.get("description", "")}
            if kind != "boolean":
                options["widget"] = BS3TextFieldWidget()
            widgets[name] = field_class(lazy_gettext(field["label"]), **options)
        return widgets

    hook_class.get_ui_field_behaviour = staticmethod(get_ui_field_behaviour)  # type: ignore[attr-defined]
    hook_class.get_connection_form_widgets = staticmethod(get_connection_form_widgets)  # type: ignore[attr-defined]
    return hook_class
