"""``PredictionSensor``: wait for a prediction submitted elsewhere; returns the operator's record shape.

``GenerateOperator(wait_for_completion=False) >> PredictionSensor(prediction_id=...)`` equals one
waiting ``GenerateOperator``. The sensor uses BaseSensorOperator's own ``timeout`` and
``poke_interval``; in all three modes (poke, reschedule, deferrable) running out of time raises
``AirflowSensorTimeout``, which fails the task without retries.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from pydantic import BaseModel

from airflow_provider_vlm._compat import AirflowSensorTimeout, conf, fail_fast
from airflow_provider_vlm._retry_note import hands_over_to_retries
from airflow_provider_vlm._summary import log_finished_wait
from airflow_provider_vlm.client import PredictionTimeoutError
from airflow_provider_vlm.client.errors import TRANSIENT_ERRORS
from airflow_provider_vlm.hooks.vlm import (
    DEFER_AFTER,
    VlmHook,
    check_max_retries,
    defer_after_seconds,
    fire_after,
)
from airflow_provider_vlm.links import PREDICTION_ID_KEY, VlmPredictionLink
from airflow_provider_vlm.retry_policy import with_default_retry_policy
from airflow_provider_vlm.triggers.prediction import PredictionTrigger
from airflow_provider_vlm.validation import ResponseValidator

if TYPE_CHECKING:
    from airflow.sdk import Context


class PredictionSensor(BaseSensorOperator):
    """Wait until ``prediction_id`` is terminal; ``completed`` returns its record, ``failed`` fails.

    :param prediction_id: templated, e.g. ``"{{ ti.xcom_pull('submit', key='prediction_id') }}"``.
    :param vlm_conn_id: the VLM Run connection (default ``vlm_default``).
    :param domain: templated; the domain whose schema ``autocast`` validates against (default: the
        prediction's own).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param max_poll_interval: cap of the deferred wait's backoff (starts at ``poke_interval``).
    :param defer_after: with ``deferrable``, keep polling on the worker for up to this long
        (seconds or timedelta, default 5 s) before deferring: a prediction that ends by then never
        defers, and once deferred the trigger fires no sooner than 10 s after the deferral
        (Airflow's defer race, ``docs/troubleshooting.md``). ``0`` turns both off.
    :param autocast: validate the response against its domain's JSON schema (``domain`` or the
        prediction's own).
    :param response_model: a pydantic model to validate the response against.
    :param max_retries: the retry budget of each API call: at most ``max_retries + 1`` attempts
        per call (default: the connection's ``max_retries`` extra). The wait itself rides out
        transient errors until the sensor's ``timeout``. See ``docs/retries.md``.
    """

    template_fields: Sequence[str] = ("prediction_id", "domain")
    operator_extra_links = (VlmPredictionLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        prediction_id: str,
        vlm_conn_id: str = VlmHook.default_conn_name,
        domain: str | None = None,
        autocast: bool = False,
        response_model: type[BaseModel] | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        max_poll_interval: float | timedelta = 30.0,
        defer_after: float | timedelta = DEFER_AFTER,
        max_retries: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", 5.0)
        with_default_retry_policy(kwargs)
        super().__init__(**kwargs)
        if autocast and response_model is not None:
            raise ValueError(f"{self.task_id}: give autocast=True or response_model, not both")
        self.prediction_id = prediction_id
        self.vlm_conn_id = vlm_conn_id
        self.domain = domain
        self.autocast = autocast
        self.response_model = response_model
        self.deferrable = deferrable
        self.defer_after = defer_after_seconds(defer_after, owner=self.task_id)
        self.max_retries = check_max_retries(max_retries, owner=self.task_id)
        cap = (
            max_poll_interval.total_seconds()
            if isinstance(max_poll_interval, timedelta)
            else max_poll_interval
        )
        self.max_poll_interval = max(float(cap), self.poke_interval)

    @cached_property
    def hook(self) -> VlmHook:
        return VlmHook(self.vlm_conn_id, max_retries=self.max_retries)

    @cached_property
    def check(self) -> ResponseValidator:
        """The operators' validation path; the domain's schema is fetched once per try."""
        return ResponseValidator(
            autocast=self.autocast, response_model=self.response_model, domain=self.domain
        )

    def _check_id(self) -> str:
        if not isinstance(self.prediction_id, str) or not self.prediction_id.strip():
            from airflow_provider_vlm.client import VlmInputError

            raise VlmInputError(
                f"{self.task_id}: prediction_id must be a non-empty string, got {self.prediction_id!r}"
            )
        return self.prediction_id

    @fail_fast
    @hands_over_to_retries
    def execute(self, context: Context) -> Any:
        prediction_id = self._check_id()
        context["ti"].xcom_push(key=PREDICTION_ID_KEY, value=prediction_id)
        if not self.deferrable:
            return super().execute(context)
        waiting_since = time.time()
        # One that ends within defer_after never defers (Airflow's defer race).
        prediction = self.hook.check_prediction(prediction_id, within=self.defer_after)
        if prediction is not None and prediction.status.is_terminal:
            return self.hook.prediction_record(prediction, self.check)
        self.defer(
            trigger=PredictionTrigger(
                prediction_ids=[prediction_id],
                vlm_conn_id=self.vlm_conn_id,
                deadline=time.time() + self.timeout,
                poll_interval=max(self.poke_interval, 0.1),
                max_poll_interval=max(self.max_poll_interval, 0.1),
                waiting_since=waiting_since,
                fire_after=fire_after(self.defer_after),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def poke(self, context: Context) -> bool | PokeReturnValue:
        client = self.hook.get_client()
        try:
            prediction = client.predictions.get(self._check_id())
        except TRANSIENT_ERRORS as exc:  # the client already retried; try again at the next poke
            self.log.warning("checking prediction %s failed: %s", self.prediction_id, exc)
            return False
        if not prediction.status.is_terminal:
            self.log.info("prediction %s is %s", prediction.id, prediction.status.value)
            return False
        return PokeReturnValue(is_done=True, xcom_value=self.hook.prediction_record(prediction, self.check))

    @fail_fast
    @hands_over_to_retries
    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        try:
            prediction = self.hook.settle_event(event, self.timeout)
        except PredictionTimeoutError as exc:
            raise AirflowSensorTimeout(str(exc)) from exc
        log_finished_wait(self.log, prediction, context, event)
        return self.hook.prediction_record(prediction, self.check)
