"""``@task.vlm``: a TaskFlow function that returns the input of one ``GenerateOperator`` prediction.

The decorated operator is ``GenerateOperator`` itself (mixed into Airflow's ``DecoratedOperator``):
``execute`` runs the user's function, sets the input it returned, and hands over to
``GenerateOperator.execute``. So the decorator defers by the same default, keeps the same
durable record and ``Idempotency-Key`` across retries (the record is keyed by the task identity,
the fingerprint includes the input the function returned), returns the same prediction record,
validates the same way and shows the same extra link.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_vlm import metrics
from airflow_provider_vlm._compat import (
    SET_DURING_EXECUTION,
    DecoratedOperator,
    TaskDecorator,
    context_merge,
    fail_fast,
    task_decorator_factory,
)
from airflow_provider_vlm.client import VlmInputError
from airflow_provider_vlm.client._inputs import is_http_url
from airflow_provider_vlm.operators._inputs import INPUT_NAMES
from airflow_provider_vlm.operators.generate import GenerateOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

#: XCom key of the input the function returned: a resumed try (which does not run the function
#: again) reads it back for OpenLineage.
INPUT_XCOM_KEY = "vlm_input"

#: Keys a returned dict may set: one input, plus the request arguments that may vary per call.
RETURNED_KEYS = (*INPUT_NAMES, "domain", "model", "config", "metadata", "callback_url")


def input_arguments(value: Any) -> dict[str, Any]:
    """The ``GenerateOperator`` arguments a decorated function's return value stands for."""
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(RETURNED_KEYS))
        if unknown:
            raise VlmInputError(
                f"@task.vlm: the returned dict has unknown key(s) {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(RETURNED_KEYS)}"
            )
        return dict(value)
    if isinstance(value, str):
        if not value.strip():
            raise VlmInputError("@task.vlm: the function returned an empty string; return the input")
        return {"url": value} if is_http_url(value) else {"file": value}
    if isinstance(value, os.PathLike) or hasattr(value, "read_bytes"):
        return {"file": value}
    raise VlmInputError(
        "@task.vlm: the function must return the input: a path, an ObjectStoragePath or URI, an "
        f"http(s) URL, or a dict of GenerateOperator input arguments; got {type(value).__name__}"
    )


class _VlmDecoratedOperator(DecoratedOperator, GenerateOperator):
    """``GenerateOperator`` whose input is the return value of ``python_callable``.

    :param python_callable: the decorated function; it returns the input (see ``input_arguments``).
    :param op_args: positional arguments of the function (templated).
    :param op_kwargs: keyword arguments of the function (templated).
    """

    template_fields: Sequence[str] = (*DecoratedOperator.template_fields, *GenerateOperator.template_fields)
    template_fields_renderers: ClassVar[dict[str, str]] = {
        **DecoratedOperator.template_fields_renderers,
        **GenerateOperator.template_fields_renderers,
    }
    custom_operator_name: str = "@task.vlm"
    #: Rendered fields are stored again after the try, so the UI shows the input the function returned.
    overwrite_rtif_after_execution: bool = True

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        given = [name for name in INPUT_NAMES if kwargs.get(name) is not None]
        if given:
            raise VlmInputError(
                f"@task.vlm: {', '.join(given)} comes from the function's return value, not from the decorator"
            )
        # The input is known only once the function has run: a placeholder passes the parse-time check.
        super().__init__(
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            file=SET_DURING_EXECUTION,
            **kwargs,
        )

    @property
    def metric_tags(self) -> dict[str, str]:
        return metrics.tags_for(self.domain, self.media, "task.vlm")

    @fail_fast  # below Airflow 3.3, a wrong return value fails at once as it does through retry_policy
    def execute(self, context: Context) -> Any:
        context_merge(context, self.op_kwargs)
        returned = self.python_callable(*self.op_args, **self.determine_kwargs(context))
        arguments = input_arguments(returned)
        self._set_input(arguments)
        context["ti"].xcom_push(key=INPUT_XCOM_KEY, value=_shown(arguments))
        return GenerateOperator.execute(self, context)

    def _set_input(self, arguments: Mapping[str, Any]) -> None:
        self.file = None
        for name, value in arguments.items():
            setattr(self, name, value)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the trigger: the function does not run again; its input is read back.

        Read here, in the task's own process, so that OpenLineage (which may call the operator
        from a forked process) finds it on the operator.
        """
        ti = context["ti"]
        shown = ti.xcom_pull(task_ids=ti.task_id, key=INPUT_XCOM_KEY, map_indexes=ti.map_index)
        self._set_input(shown if isinstance(shown, Mapping) else {})
        return super().execute_complete(context, event)


def _shown(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The input as plain strings (an ``ObjectStoragePath`` as its URI; inline image data left out)."""
    shown: dict[str, Any] = {}
    for name in INPUT_NAMES:
        value = arguments.get(name)
        if value is None:
            continue
        if name == "images":
            items = [value] if isinstance(value, str) else list(value)
            shown[name] = [str(i) for i in items if not str(i).startswith("data:")]
        else:
            shown[name] = str(value)
    return shown


def vlm_task(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> TaskDecorator:
    """``@task.vlm(domain=..., media=...)``: the keyword arguments are ``GenerateOperator``'s.

    The function returns the input; the task returns the prediction record. ``multiple_outputs``
    defaults to ``False`` whatever the function's annotation says (the annotation describes the
    input, not the record).
    """
    kwargs.setdefault("multiple_outputs", False)
    return task_decorator_factory(
        python_callable=python_callable,
        decorated_operator_class=_VlmDecoratedOperator,
        **kwargs,
    )
