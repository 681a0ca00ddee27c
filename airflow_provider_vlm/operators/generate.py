"""``GenerateOperator``: one input → one prediction, retried without duplicates, waited without a slot.

Flow of one try: load the input (hash it), then ``durable.submit_once``: read the record, check
the recorded prediction and decide, or upload, write the intent, create the prediction under an
``Idempotency-Key`` derived from the task identity, the input fingerprint and the record's
generation, and write the prediction id. Then push ``prediction_id``, check once, and wait in the
triggerer (``deferrable``) or in the worker.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from pydantic import BaseModel

from airflow_provider_vlm import metrics
from airflow_provider_vlm._compat import conf, task_entry
from airflow_provider_vlm._retry_note import hands_over_to_retries
from airflow_provider_vlm._summary import log_finished_wait
from airflow_provider_vlm.client import (
    GenerationConfig,
    Prediction,
    PredictionFailedError,
    RequestMetadata,
    ResponseValidationError,
    VlmClient,
)
from airflow_provider_vlm.client.pricing import billed_tier
from airflow_provider_vlm.durable import RecordStore, Step, clear_number, submit_once
from airflow_provider_vlm.hooks.vlm import DEFER_AFTER, VlmHook, fire_after
from airflow_provider_vlm.links import PREDICTION_ID_KEY, VlmPredictionLink
from airflow_provider_vlm.operators._budget import (
    Budget,
    BudgetExceededError,
    Ledger,
    by_tier_text,
    credits_text,
    estimate,
    parse_max_credits,
)
from airflow_provider_vlm.operators._common import PredictionRequestMixin, defer_after_seconds
from airflow_provider_vlm.operators._domain import check_domain
from airflow_provider_vlm.operators._drift import SchemaStamp, check_pin, read_stamp
from airflow_provider_vlm.operators._inputs import LoadedInput, check_arguments, load_input
from airflow_provider_vlm.operators._stopping import StopReporting
from airflow_provider_vlm.operators._submission import Submission
from airflow_provider_vlm.retry_policy import with_default_retry_policy
from airflow_provider_vlm.state_store import for_task
from airflow_provider_vlm.triggers.prediction import PredictionTrigger

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context


class GenerateOperator(StopReporting, PredictionRequestMixin, BaseOperator):
    """Run one VLM Run prediction and return its record ``{id, status, type, domain, ..., response}``.

    :param domain: what to extract, ``<category>.<name>``, e.g. ``document.invoice`` (templated).
    :param media: ``image``, ``document``, ``audio`` or ``video``.
    :param file: a local path, an ``ObjectStoragePath`` or a URI (``s3://…``, ``file://…``) whose
        content is uploaded (stored content with the same md5 is reused). Templated. Exactly one of
        ``file``, ``file_id``, ``url``, ``images``.
    :param file_id: the id of a file already stored on the server (templated).
    :param url: an http(s) URL the server fetches (templated).
    :param images: image paths or URLs, ``media="image"`` only (templated).
    :param model: model name (templated).
    :param config: GenerationConfig as a dict or ``GenerationConfig`` (templated).
    :param metadata: RequestMetadata as a dict or ``RequestMetadata`` (templated).
    :param callback_url: an http(s) URL the server calls when the prediction is done (templated).
    :param autocast: validate the response against the domain's JSON schema; a mismatch fails the
        task at once, naming the field.
    :param response_model: a pydantic model: sent as ``config.json_schema``, the response is
        validated against it. Not together with ``autocast``.
    :param wait_for_completion: wait for a terminal status; ``False`` returns right after submitting.
    :param deferrable: wait in the triggerer, holding no worker slot (default
        ``[operators] default_deferrable``).
    :param poll_interval: first polling interval (seconds or timedelta); grows by 1.5 while nothing
        changes.
    :param max_poll_interval: cap of the polling interval; a server's ``Retry-After`` wins.
    :param defer_after: with ``deferrable``, keep polling on the worker for up to this long
        (seconds or timedelta, default 5 s) before deferring: a prediction that ends by then never
        defers, and once deferred the trigger fires no sooner than ``DEFER_HOLD`` (10 s) after
        the deferral: both keep the task out of Airflow's defer race (``docs/troubleshooting.md``).
        ``0`` checks once, defers, and fires at once.
    :param timeout: how long one try waits (seconds or timedelta; ``None``: no limit); a retry
        gets a fresh one.
    :param vlm_conn_id: Airflow connection of type ``vlm``.
    :param max_retries: the retry budget of each API call: at most ``max_retries + 1`` attempts
        per call in one try (default: the connection's ``max_retries`` extra); past it the try
        fails with a transient error and the task's ``retries`` take over. See ``docs/retries.md``.
    :param service_tier: ``flex`` (half the standard credits, served later), ``standard`` or
        ``priority`` (1.8 times); ``None``: the server's default (standard). Goes to
        ``config.service_tier`` (templated).
    :param confidence: ask for a confidence per extracted field (``X_metadata.confidence``).
    :param grounding: ask for where each field stands on the page (``X_metadata.bbox``).
    :param allow_training: may VLM Run train on this input? ``None``: the connection's choice,
        else the platform's default (allowed). Goes to ``metadata.allow_training``.
    :param environment: ``dev``, ``staging`` or ``prod`` (``metadata.environment``); ``None``:
        the connection's, else the platform's default (``dev``). Templated.
    :param max_credits: the budget of this task instance over all its tries: the prediction is
        not submitted when its estimate (pages priced by the rate card, ``client.pricing``) would
        take what the task reserved over it (a runtime input, e.g. ``@task.vlm``'s, may be a
        300-page PDF). Templated (a Variable).
    :param pin_schema_hash: the domain schema's ``schema_hash`` this task was built for: each try
        reads the schema once (one request) and, when the platform serves another, fails with
        ``SchemaPinError`` before submitting (nothing billed, no retry spent). ``None`` (default):
        no schema request. Templated. See ``docs/operators.md``.

    See ``docs/operators.md`` and ``docs/retries.md`` for the retry rules, ``docs/stopping.md`` for
    what mark failed, clear and timeouts do (the prediction keeps running: VLM Run cannot cancel it).
    """

    template_fields: Sequence[str] = (
        "file",
        "file_id",
        "url",
        "images",
        "domain",
        "model",
        "config",
        "metadata",
        "callback_url",
        "service_tier",
        "environment",
        "max_credits",
        "pin_schema_hash",
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
        file_id: str | None = None,
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
        defer_after: float | timedelta = DEFER_AFTER,
        timeout: float | timedelta | None = 3600.0,
        vlm_conn_id: str = VlmHook.default_conn_name,
        max_retries: int | None = None,
        service_tier: str | None = None,
        confidence: bool | None = None,
        grounding: bool | None = None,
        allow_training: bool | None = None,
        environment: str | None = None,
        max_credits: float | str | None = None,
        pin_schema_hash: str | None = None,
        **kwargs: Any,
    ) -> None:
        with_default_retry_policy(kwargs)
        super().__init__(**kwargs)
        check_arguments(
            media=media, domain=domain, file=file, file_id=file_id, url=url, images=images, owner=self.task_id
        )
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
            max_retries=max_retries,
            service_tier=service_tier,
            confidence=confidence,
            grounding=grounding,
            allow_training=allow_training,
            environment=environment,
            max_credits=max_credits,
        )
        self.file = file
        self.file_id = file_id
        self.url = url
        self.images = images
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.defer_after = defer_after_seconds(defer_after, owner=self.task_id)
        self.pin_schema_hash = pin_schema_hash
        #: The prediction this try submitted or finished, for OpenLineage (not serialized).
        self._lineage_prediction_id: str | None = None
        self._lineage_credits: float | None = None
        self._lineage_schema: SchemaStamp | None = None
        self._waiting_ids: list[str] = []

    @property
    def metric_tags(self) -> dict[str, str]:
        return metrics.tags_for(self.domain, self.media, type(self).__name__)

    def _result(self, prediction: Prediction) -> dict[str, Any]:
        """The record of a terminal prediction, its response judged as the batch judges one."""
        self._lineage_prediction_id = prediction.id
        self._lineage_credits = prediction.usage.credits_used
        try:
            record = self.hook.prediction_record(
                prediction, self.response_validator()
            )  # failed → typed error
        except (PredictionFailedError, ResponseValidationError):
            metrics.finished(self.metric_tags, [prediction], failed_ids=[prediction.id])
            raise
        metrics.finished(self.metric_tags, [prediction])
        return record

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Called by the OpenLineage provider after a successful try: input, model and cost."""
        from airflow_provider_vlm.lineage import input_datasets, operator_lineage

        return operator_lineage(
            inputs=input_datasets(
                file=self.file,
                file_id=self.file_id,
                url=self.url,
                images=self.images,
                base_url=lambda: self.hook.get_connection(self.vlm_conn_id).host,
            ),
            domain=self.domain,
            model=self.model,
            media=self.media,
            prediction_ids=[self._lineage_prediction_id] if self._lineage_prediction_id else [],
            credits_used=self._lineage_credits,
            schema_hash=self._lineage_schema.schema_hash if self._lineage_schema else None,
            schema_version=self._lineage_schema.schema_version if self._lineage_schema else None,
        )

    # --- one try -----------------------------------------------------------------------------

    @task_entry
    @hands_over_to_retries
    def execute(self, context: Context) -> Any:
        check_arguments(
            media=self.media,
            domain=self.domain,
            file=self.file,
            file_id=self.file_id,
            url=self.url,
            images=self.images,
            owner=self.task_id,
        )
        loaded = load_input(file=self.file, file_id=self.file_id, url=self.url, images=self.images)
        submission = self.submission()
        client = self.hook.get_client()
        check_domain(client, self.domain)
        self._check_pin(client, submission)
        submitted = submit_once(
            context,
            client,
            submission.fingerprint(loaded),
            prepare=lambda: self._prepare(context, submission, client, loaded),
            create=lambda source, key: submission.create(client, source, batch=True, idempotency_key=key),
            log=self.log,
        )
        context["ti"].xcom_push(key=PREDICTION_ID_KEY, value=submitted.prediction_id)
        if submitted.decision.step in (Step.RETURN, Step.ATTACH):
            metrics.reattached(self.metric_tags)
        else:
            metrics.submitted(self.metric_tags)
        self._lineage_prediction_id = submitted.prediction_id
        self._waiting_ids = [submitted.prediction_id]
        waiting_since = time.time()

        prediction = submitted.prediction
        if prediction is not None and prediction.status.is_terminal:
            return self._result(prediction)
        if not self.wait_for_completion:
            return (prediction or client.predictions.get(submitted.prediction_id)).record()
        # A prediction that ends within defer_after never defers (Airflow's defer race); an outage
        # starting now is the wait's to ride out.
        checked = self.hook.check_prediction(
            submitted.prediction_id, within=self.defer_after if self.deferrable else 0.0
        )
        if checked is not None and checked.status.is_terminal:
            return self._result(checked)

        deadline = None if self.timeout is None else time.time() + self.timeout
        if self.deferrable:
            self.log_deferring(self._waiting_ids)
            self.defer(
                trigger=PredictionTrigger(
                    prediction_ids=[submitted.prediction_id],
                    vlm_conn_id=self.vlm_conn_id,
                    deadline=deadline,
                    poll_interval=self.poll_interval,
                    max_poll_interval=self.max_poll_interval,
                    waiting_since=waiting_since,
                    fire_after=fire_after(self.defer_after),
                ),
                method_name="execute_complete",
                timeout=self.deferral_timeout(context),
            )
        finished = self.hook.wait_for_prediction(
            submitted.prediction_id,
            deadline=deadline,
            timeout=self.timeout,
            poll_interval=self.poll_interval,
            max_poll_interval=self.max_poll_interval,
        )
        return self._result(finished)

    def _check_pin(self, client: VlmClient, submission: Submission) -> None:
        """With ``pin_schema_hash``: one schema read, and ``SchemaPinError`` before any submit."""
        if not self.pin_schema_hash:
            return
        current = read_stamp(client, self.domain, submission.config, required=True)
        check_pin(self.pin_schema_hash, current, self.domain, None)
        self._lineage_schema = current

    def _prepare(
        self, context: Context, submission: Submission, client: VlmClient, loaded: LoadedInput
    ) -> dict[str, Any]:
        """Only when a submit is due: the budget's reservation first, then the upload."""
        self._reserve(context, submission, loaded)
        return submission.prepare(client, loaded)

    def _reserve(self, context: Context, submission: Submission, loaded: LoadedInput) -> None:
        """Under ``max_credits``: reserve this submit's estimate, or fail before anything is sent."""
        if self.max_credits is None:
            return
        max_credits = parse_max_credits(self.max_credits, owner=self.task_id)
        store = for_task(context, "keep the credits reserved across retries")
        ledger = Ledger.load(store, clear_number(context))
        tier = (submission.config or {}).get("service_tier")
        budget = Budget(max_credits, tier, ledger)
        cost = estimate(loaded, self.media, submission.domain, submission.config)
        reason = budget.admit(cost)
        ledger.stopped = reason is not None
        ledger.save(store)
        if reason is not None:
            raise BudgetExceededError(
                f"{loaded.label}: {reason}; this task reserved {credits_text(ledger.total)} credits "
                f"({by_tier_text(ledger.reserved)}) in earlier tries. Nothing was submitted: raise "
                "max_credits and clear the task"
            )
        self.log.info(
            "max_credits=%s: reserved %s credits (%s pages at %s); %s left",
            credits_text(max_credits),
            credits_text(cost.credits or 0),
            cost.elements,
            billed_tier(tier),
            credits_text(budget.left),
        )

    def recorded_waiting_ids(self, context: Context) -> list[str]:
        record = RecordStore.from_context(context).load()
        return [] if record is None or record.prediction_id is None else [record.prediction_id]

    @task_entry
    @hands_over_to_retries
    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the trigger; everything needed is in the event (``dag.test()`` passes only it)."""
        prediction = self.hook.settle_event(event, self.timeout)
        log_finished_wait(self.log, prediction, context, event, tier=self.requested_tier())
        context["ti"].xcom_push(key=PREDICTION_ID_KEY, value=prediction.id)
        return self._result(prediction)
