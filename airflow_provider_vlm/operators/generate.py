"""``GenerateOperator``: one input → one prediction, retried without duplicates, waited without a slot.

Flow of one try: load the input (hash it), read the durable record, decide (``durable.decide``),
submit or re-attach, push ``prediction_id``, check once, then wait in the triggerer
(``deferrable``) or in the worker. Every submit writes its intent first and the prediction id
right after, under an ``Idempotency-Key`` derived from the task identity, the input fingerprint
and the record's generation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, conf
from pydantic import BaseModel

from airflow_provider_vlm._summary import log_finished_wait
from airflow_provider_vlm.client import GenerationConfig, Prediction, RequestMetadata, VlmClient
from airflow_provider_vlm.durable import RECORD_KEY, RecordStore, Step, after_status, decide, intent
from airflow_provider_vlm.hooks.vlm import VlmHook
from airflow_provider_vlm.identity import idempotency_key
from airflow_provider_vlm.links import PREDICTION_ID_KEY, VlmPredictionLink
from airflow_provider_vlm.operators._common import (
    DEFER_GRACE,
    PredictionRequestMixin,
    clear_number,
    task_identity,
)
from airflow_provider_vlm.operators._domain import check_domain
from airflow_provider_vlm.operators._inputs import check_arguments, load_input
from airflow_provider_vlm.retry_policy import default_retry_policy
from airflow_provider_vlm.sensors._completion import ResponseCheck, outcome, settle_event, wait_blocking
from airflow_provider_vlm.triggers.prediction import PredictionTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


def submit_once(
    context: Context,
    client: VlmClient,
    fingerprint: str,
    submit: Callable[[str], Prediction],
    *,
    log: Any,
    record_key: str = RECORD_KEY,
) -> Prediction:
    """Apply the durable record's rules: return or re-attach to a known prediction, or submit one.

    ``submit`` gets the ``Idempotency-Key`` to send. The intent is written before it runs and the
    prediction id right after, so a lost answer is settled by the next try with the same key.
    """
    store = RecordStore.from_context(context, record_key)
    record = store.load()
    current_clear = clear_number(context)
    decision = decide(record, fingerprint, current_clear)
    if decision.step is Step.CHECK:
        assert record is not None and decision.prediction_id is not None
        known = client.get_prediction(decision.prediction_id)
        decision = after_status(record, known.status)
        if decision.step in (Step.RETURN, Step.ATTACH):
            log.info("%s", decision.reason)
            return known
    if decision.step is Step.RESUBMIT:
        log.warning(
            "%s. A server that honours Idempotency-Key hands back the same prediction; one that "
            "does not may have billed a duplicate.",
            decision.reason,
        )
    else:
        log.info("submitting (generation %d): %s", decision.generation, decision.reason)
    pending = intent(fingerprint, current_clear, decision.generation)
    store.save(pending)
    prediction = submit(idempotency_key(task_identity(context), fingerprint, decision.generation))
    store.save(pending.with_prediction(prediction.id))
    log.info("submitted prediction %s (%s)", prediction.id, prediction.status.value)
    return prediction


class GenerateOperator(PredictionRequestMixin, BaseOperator):
    """Run one VLM Run prediction and return its record ``{id, status, type, domain, ..., response}``.

    :param media: ``image``, ``document``, ``audio`` or ``video``.
    :param domain: e.g. ``document.invoice``.
    :param file: a local path, an ``ObjectStoragePath`` or URI (``s3://…``, ``file://…``), or the
        id of a file already stored on the server. Exactly one of ``file``, ``url``, ``images``.
    :param url: an http(s) URL the server fetches.
    :param images: image paths or URLs (``media="image"`` only).
    :param wait_for_completion: wait for a terminal status; ``False`` returns right after submitting.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param timeout: how long one try waits (seconds or timedelta); a retry gets a fresh one.
    :param autocast: validate the response against the domain's JSON schema.
    :param response_model: a pydantic model: sent as ``config.json_schema``, the response is
        validated against it.

    See ``docs/operators.md`` for every parameter and ``docs/retries.md`` for the retry rules.
    """

    template_fields: Sequence[str] = (
        "file",
        "url",
        "images",
        "domain",
        "model",
        "config",
        "metadata",
        "callback_url",
    )
    template_fields_renderers = {"config": "json", "metadata": "json"}
    operator_extra_links = (VlmPredictionLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        domain: str,
        media: str = "document",
        file: Any = None,
        url: str | None = None,
        images: Sequence[Any] | None = None,
        model: str = "vlm-1",
        config: GenerationConfig | Mapping[str, Any] | None = None,
        metadata: RequestMetadata | Mapping[str, Any] | None = None,
        callback_url: str | None = None,
        autocast: bool = False,
        response_model: type[BaseModel] | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | timedelta = 5.0,
        max_poll_interval: float | timedelta = 30.0,
        timeout: float | timedelta | None = 3600.0,
        vlm_conn_id: str = VlmHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("retry_policy", default_retry_policy())
        super().__init__(**kwargs)
        check_arguments(media=media, domain=domain, file=file, url=url, images=images, owner=self.task_id)
        self._init_request(
            owner=self.task_id,
            media=media,
            domain=domain,
            model=model,
            config=config,
            metadata=metadata,
            callback_url=callback_url,
            autocast=autocast,
            response_model=response_model,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            timeout=timeout,
            vlm_conn_id=vlm_conn_id,
        )
        self.file = file
        self.url = url
        self.images = images
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable

    @property
    def check(self) -> ResponseCheck:
        return ResponseCheck(autocast=self.autocast, response_model=self.response_model)

    # --- one try -----------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        check_arguments(
            media=self.media,
            domain=self.domain,
            file=self.file,
            url=self.url,
            images=self.images,
            owner=self.task_id,
        )
        loaded = load_input(file=self.file, url=self.url, images=self.images)
        submission = self.submission()
        client = self.hook.get_client()
        check_domain(client, self.domain)
        prediction = submit_once(
            context,
            client,
            submission.fingerprint(loaded),
            lambda key: submission.submit(client, loaded, batch=True, idempotency_key=key),
            log=self.log,
        )
        context["ti"].xcom_push(key=PREDICTION_ID_KEY, value=prediction.id)

        if prediction.status.is_terminal:
            return outcome(client, prediction, self.check, self.domain)
        if not self.wait_for_completion:
            return prediction.record()
        prediction = client.get_prediction(prediction.id)  # a finished prediction never defers
        if prediction.status.is_terminal:
            return outcome(client, prediction, self.check, self.domain)

        deadline = None if self.timeout is None else time.time() + self.timeout
        if self.deferrable:
            self.defer(
                trigger=PredictionTrigger(
                    prediction_ids=[prediction.id],
                    vlm_conn_id=self.vlm_conn_id,
                    deadline=deadline,
                    poll_interval=self.poll_interval,
                    max_poll_interval=self.max_poll_interval,
                ),
                method_name="execute_complete",
                timeout=None
                if self.timeout is None
                else timedelta(seconds=self.timeout + self.max_poll_interval + DEFER_GRACE),
            )
        finished = wait_blocking(
            client,
            prediction.id,
            deadline=deadline,
            timeout=self.timeout,
            poll_interval=self.poll_interval,
            max_poll_interval=self.max_poll_interval,
        )
        return outcome(client, finished, self.check, self.domain)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the trigger; everything needed is in the event (``dag.test()`` passes only it)."""
        client = self.hook.get_client()
        prediction = settle_event(client, event, self.timeout)
        log_finished_wait(self.log, prediction, context)
        context["ti"].xcom_push(key=PREDICTION_ID_KEY, value=prediction.id)
        return outcome(client, prediction, self.check, self.domain)
