"""``GenerateBatchOperator``: many documents in one task and one trigger.

One mapped task per document costs a worker start and a resume per document and stops at
``[core] max_map_length``; this operator submits every input from one task (a bounded pool of
submit calls), defers once to a ``PredictionTrigger`` that polls all the ids, then fetches the
results on the worker and writes them to storage. The event stays small: counts and a message.

The operator only orchestrates; each step has its own module: inputs (``_batch_inputs``),
submitting under the durable record's rules (``_batch_submit``, state in ``_batch_state``),
collecting and judging results (``_batch_collect``) and writing them (``_batch_output``). The
wait is one ``PredictionTrigger`` for every id, or with ``deferrable=False`` the same loop on the
worker through ``VlmHook.wait_for_predictions``.
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
from airflow_provider_vlm._summary import duration_text
from airflow_provider_vlm.client import GenerationConfig, RequestMetadata, VlmInputError
from airflow_provider_vlm.client.pricing import billed_tier
from airflow_provider_vlm.events import PredictionEvent, WaitStatus
from airflow_provider_vlm.hooks.vlm import DEFER_AFTER, VlmHook, fire_after
from airflow_provider_vlm.operators._batch_collect import (
    BatchFailedError,
    BatchInputsRefusedError,
    BatchTimeoutError,
    Collector,
    apply_failure_policy,
)
from airflow_provider_vlm.operators._batch_inputs import (
    BatchTooFewInputsError,
    describe_source,
    inputs_origin,
    resolve_inputs,
    run_description,
    too_few_inputs,
)
from airflow_provider_vlm.operators._batch_output import ResultWriter
from airflow_provider_vlm.operators._batch_state import BatchState
from airflow_provider_vlm.operators._batch_submit import BatchSubmitter
from airflow_provider_vlm.operators._budget import (
    Budget,
    Ledger,
    budget_figures,
    by_tier_text,
    counts_submitted,
    credits_text,
    parse_max_credits,
    raise_over_budget,
)
from airflow_provider_vlm.operators._common import (
    PredictionRequestMixin,
    clear_number,
    defer_after_seconds,
    task_identity,
)
from airflow_provider_vlm.operators._domain import check_domain
from airflow_provider_vlm.operators._drift import SchemaCheck, SchemaPinError, check_schema, remember
from airflow_provider_vlm.operators._inputs import check_arguments
from airflow_provider_vlm.operators._stopping import StopReporting
from airflow_provider_vlm.operators._submission import Submission
from airflow_provider_vlm.retry_policy import with_default_retry_policy
from airflow_provider_vlm.triggers.prediction import PredictionTrigger

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context


class GenerateBatchOperator(StopReporting, PredictionRequestMixin, BaseOperator):
    """Run one prediction per input, wait for all of them in one trigger, write the results.

    Returns (XCom) a small summary: counts per status, credits used, the first failed inputs and
    the output paths; see ``docs/batch.md``.

    :param domain: what to extract, ``<category>.<name>``, e.g. ``document.invoice`` (templated).
    :param media: ``image``, ``document``, ``audio`` or ``video``; every input is one of these.
    :param inputs: list of local paths, ``ObjectStoragePath``/URIs (``s3://…``) or http(s) URLs,
        templated (e.g. a listing task's ``.output``). Exactly one of ``inputs`` and ``source``.
    :param source: a folder (local path, URI or ``ObjectStoragePath``) whose files matching
        ``pattern`` are the inputs, in sorted order (templated).
    :param pattern: glob under ``source`` (default ``*``; ``**/*.pdf`` recurses; templated).
    :param output_path: folder (local, ``s3://…``, ``ObjectStoragePath``) for ``results.jsonl``
        (one line per input) and ``summary.json`` (templated).
    :param model: model name (templated).
    :param config: GenerationConfig as a dict or ``GenerationConfig``, the same for every input
        (templated).
    :param metadata: RequestMetadata as a dict or ``RequestMetadata`` (templated).
    :param callback_url: an http(s) URL the server calls when each prediction is done (templated).
    :param autocast: validate every completed response against the domain's JSON schema (fetched
        and compiled once per task); a mismatch makes that input ``failed``, naming the field.
    :param response_model: a pydantic model: sent as ``config.json_schema``, every response is
        validated against it. Not together with ``autocast``.
    :param max_active_submissions: concurrent submit calls (uploads and creates).
    :param max_failed_fraction: the task fails when more than this fraction of inputs failed;
        ``0`` (default) fails on any failure, ``1`` never fails for failed inputs.
    :param deferrable: wait in the triggerer, holding no worker slot (default
        ``[operators] default_deferrable``); ``False`` waits on the worker with the same loop.
    :param poll_interval: first polling interval (seconds or timedelta); grows by 1.5 while
        nothing changes.
    :param max_poll_interval: cap of the polling interval; a server's ``Retry-After`` wins.
    :param defer_after: with ``deferrable``, keep polling on the worker for up to this long
        (seconds or timedelta, default 5 s) before deferring: a batch whose predictions all end by
        then never defers, and once deferred the trigger fires no sooner than 10 s after the
        deferral (Airflow's defer race, ``docs/troubleshooting.md``). ``0`` turns both off.
    :param timeout: how long one try waits for the whole batch (seconds or timedelta; ``None``:
        no limit); a retry gets a fresh one and re-attaches to what still runs.
    :param max_concurrent_polls: concurrent status and result calls (trigger and worker).
    :param max_xcom_results_bytes: without ``output_path``, the full results go to XCom only up
        to this size (JSON); larger results are left out of XCom, with a warning.
    :param vlm_conn_id: Airflow connection of type ``vlm``.
    :param max_retries: the retry budget of each API call: at most ``max_retries + 1`` attempts
        per call in one try (default: the connection's ``max_retries`` extra); past it the try
        fails with a transient error and the task's ``retries`` take over. See ``docs/retries.md``.
    :param service_tier: ``flex`` (half the standard credits, served later: a nightly batch that
        can wait), ``standard`` or ``priority`` (1.8 times); ``None``: the server's default
        (standard). Goes to ``config.service_tier`` (templated).
    :param confidence: ask for a confidence per extracted field (``X_metadata.confidence``).
    :param grounding: ask for where each field stands on the page (``X_metadata.bbox``).
    :param allow_training: may VLM Run train on these inputs? ``None``: the connection's choice,
        else the platform's default (allowed). Goes to ``metadata.allow_training``.
    :param environment: ``dev``, ``staging`` or ``prod`` (``metadata.environment``); ``None``:
        the connection's, else the platform's default (``dev``). Templated.
    :param max_credits: the budget of this task instance (all its tries in one night): no create
        is sent whose estimate (pages priced by the rate card, ``client.pricing``) would take the
        reserved credits over it; the task then fails naming the budget, what was done and what
        is left, and a Clear after raising it goes on without submitting anything twice.
        Templated (a Variable).
    :param min_inputs: fewest inputs a run must list (default 1): fewer fails the task at once with
        ``BatchTooFewInputsError``, naming the folder (or the list's origin) and the run, so an
        empty night is never a green run; ``0`` accepts an empty batch. See ``docs/batch.md``.
    :param pin_schema_hash: the domain schema's ``schema_hash`` this task was built for: when the
        platform serves another, the task fails with ``SchemaPinError`` before anything is
        submitted (nothing billed, no retry spent). ``None``: a changed schema is only reported (log
        and ``schema_changed`` in the summary). Templated (a Variable). See ``docs/batch.md``.
    """

    template_fields: Sequence[str] = (
        "inputs",
        "source",
        "pattern",
        "output_path",
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
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        domain: str,
        media: str = "document",
        inputs: Any = None,
        source: Any = None,
        pattern: str = "*",
        output_path: Any = None,
        model: str = "vlm-1",
        config: GenerationConfig | Mapping[str, Any] | None = None,
        metadata: RequestMetadata | Mapping[str, Any] | None = None,
        callback_url: str | None = None,
        autocast: bool = False,
        response_model: type[BaseModel] | None = None,
        max_active_submissions: int = 8,
        max_failed_fraction: float = 0.0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | timedelta = 5.0,
        max_poll_interval: float | timedelta = 30.0,
        defer_after: float | timedelta = DEFER_AFTER,
        timeout: float | timedelta | None = 6 * 3600.0,
        max_concurrent_polls: int = 20,
        max_xcom_results_bytes: int = 512_000,
        vlm_conn_id: str = VlmHook.default_conn_name,
        max_retries: int | None = None,
        service_tier: str | None = None,
        confidence: bool | None = None,
        grounding: bool | None = None,
        allow_training: bool | None = None,
        environment: str | None = None,
        max_credits: float | str | None = None,
        min_inputs: int = 1,
        pin_schema_hash: str | None = None,
        **kwargs: Any,
    ) -> None:
        with_default_retry_policy(kwargs)
        super().__init__(**kwargs)
        owner = self.task_id
        check_arguments(media=media, domain=domain, file="(inputs)", owner=owner)
        if (inputs is None) == (source is None):
            raise VlmInputError(f"{owner}: give exactly one of inputs or source")
        if inputs is not None and pattern != "*":
            raise VlmInputError(f"{owner}: pattern applies to source, not to inputs")
        if isinstance(inputs, (list, tuple)) and not inputs:
            raise VlmInputError(f"{owner}: inputs is empty")
        if not isinstance(max_active_submissions, int) or max_active_submissions < 1:
            raise VlmInputError(f"{owner}: max_active_submissions must be an integer >= 1")
        if not isinstance(max_concurrent_polls, int) or max_concurrent_polls < 1:
            raise VlmInputError(f"{owner}: max_concurrent_polls must be an integer >= 1")
        if isinstance(min_inputs, bool) or not isinstance(min_inputs, int) or min_inputs < 0:
            raise VlmInputError(f"{owner}: min_inputs must be an integer >= 0, got {min_inputs!r}")
        if isinstance(max_failed_fraction, bool) or not 0.0 <= float(max_failed_fraction) <= 1.0:
            raise VlmInputError(
                f"{owner}: max_failed_fraction must be between 0 and 1, got {max_failed_fraction!r}"
            )
        self._init_request(
            owner=owner,
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
        self.inputs = inputs
        self.source = source
        self.pattern = pattern
        self.output_path = output_path
        self.max_active_submissions = max_active_submissions
        self.max_failed_fraction = float(max_failed_fraction)
        self.deferrable = deferrable
        self.defer_after = defer_after_seconds(defer_after, owner=owner)
        self.max_concurrent_polls = max_concurrent_polls
        self.max_xcom_results_bytes = max_xcom_results_bytes
        self.min_inputs = min_inputs
        self.pin_schema_hash = pin_schema_hash
        #: The ``inputs`` argument's origin (its upstream task), named before rendering replaces it.
        self._inputs_origin = inputs_origin(inputs)
        #: What the collect step saw, for OpenLineage (not serialized).
        self._lineage_labels: list[str] = []
        self._lineage_prediction_ids: list[str] = []
        self._lineage_summary: dict[str, Any] = {}
        self._waiting_ids: list[str] = []

    @property
    def metric_tags(self) -> dict[str, str]:
        return metrics.tags_for(self.domain, self.media, type(self).__name__)

    # --- execute: submit what needs submitting, then wait --------------------------------------

    def resolve_inputs(self) -> list[tuple[str, Any]]:
        """``(label, value)`` per input, duplicates dropped; the label keys the durable state."""
        return resolve_inputs(
            owner=self.task_id, inputs=self.inputs, source=self.source, pattern=self.pattern
        )

    @task_entry
    @hands_over_to_retries
    def execute(self, context: Context) -> Any:
        items = self.resolve_inputs()
        if len(items) < self.min_inputs:
            raise too_few_inputs(
                owner=self.task_id,
                found=len(items),
                min_inputs=self.min_inputs,
                where=describe_source(self.source, self.pattern, self._inputs_origin),
                run=run_description(context),
            )
        client = self.hook.get_client()
        check_domain(client, self.domain)
        submission = self.submission()
        schema = self.check_schema(client, submission, context)  # a pin fails here: nothing billed
        self.log.info("batch of %s inputs (%s)", f"{len(items):,}", self.media)
        metrics.batch_size(self.metric_tags, len(items))
        state = BatchState.from_context(context, starting=True)
        state.save_inputs(label for label, _ in items)  # the resume collects these, not a new listing
        state.save_schema(schema.to_json())
        budget = self.budget_for(state, clear_number(context), submission)
        submitter = BatchSubmitter(
            submission=submission,
            client=client,
            state=state,
            identity=task_identity(context),
            clear=clear_number(context),
            media=self.media,
            max_active_submissions=self.max_active_submissions,
            log=self.log,
            budget=budget,
        )
        waiting = submitter.run(items)
        if budget is not None:
            budget.ledger.stopped = bool(submitter.left)
            budget.ledger.save(state.store)
            if submitter.left:
                self.log.warning(
                    "max_credits=%s: %s input(s) not submitted (%s); the %s submitted are waited for "
                    "and written, then the task fails",
                    credits_text(budget.max_credits),
                    f"{len(submitter.left):,}",
                    next(iter(submitter.left.values())),
                    f"{counts_submitted(submitter.counts):,}",
                )
        self._waiting_ids = waiting
        counts = submitter.counts
        metrics.submitted(self.metric_tags, counts["submitted"] + counts["resubmitted"])
        metrics.reattached(self.metric_tags, counts["kept"] + counts["attached"])
        if not waiting:
            self.log.info("no prediction is waiting: writing the results")
            return self._finish(context, None)

        trigger = self.trigger_for(waiting, waiting_since=time.time())
        if self.deferrable:
            # Predictions that all end within defer_after never defer (Airflow's defer race).
            ended = self.hook.check_predictions(waiting, within=self.defer_after)
            if ended is not None:
                return self.execute_complete(
                    context, {**ended.to_dict(), "waiting_since": trigger.waiting_since}
                )
            self.log_deferring(waiting)
            trigger.fire_after = fire_after(self.defer_after)
            self.defer(
                trigger=trigger, method_name="execute_complete", timeout=self.deferral_timeout(context)
            )
        self.log.info("waiting on the worker: %s predictions", f"{len(waiting):,}")
        event = self.hook.wait_for_predictions(  # the trigger's own wait (same loop, same event)
            trigger.prediction_ids,
            deadline=trigger.deadline,
            poll_interval=trigger.poll_interval,
            max_poll_interval=trigger.max_poll_interval,
            max_concurrency=trigger.max_concurrency,
        )
        return self.execute_complete(context, {**event.to_dict(), "waiting_since": trigger.waiting_since})

    def check_schema(self, client: Any, submission: Submission, context: Context) -> SchemaCheck:
        """The schema this try extracts against (one request), checked against the pin and the
        last successful try's (``_drift``)."""
        ti = context["ti"]
        return check_schema(
            client,
            domain=self.domain,
            config=submission.config,
            pin=self.pin_schema_hash or None,
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            log=self.log,
        )

    def budget_for(self, state: BatchState, clear: int, submission: Submission) -> Budget | None:
        """This try's budget, over what earlier tries of the night reserved; a Clear right after a
        budget stop takes over that night's records first (nothing is submitted twice)."""
        ledger = Ledger.load(state.store, clear)
        if ledger.continued_from is not None:
            moved = state.carry_over(ledger.continued_from, clear)
            self.log.info(
                "the last try stopped on max_credits: this Clear goes on with that night (%s input(s) "
                "already submitted are kept; %s credits reserved: %s)",
                f"{moved:,}",
                credits_text(ledger.total),
                by_tier_text(ledger.reserved),
            )
        if self.max_credits is None:
            if ledger.stopped:  # no budget any more: the next Clear extracts afresh
                ledger.stopped = False
                ledger.save(state.store)
            return None
        max_credits = parse_max_credits(self.max_credits, owner=self.task_id)
        self.log.info(
            "max_credits=%s: %s reserved by earlier tries (%s), %s left; estimates are pages times "
            "the %s rate",
            credits_text(max_credits),
            credits_text(ledger.total),
            by_tier_text(ledger.reserved),
            credits_text(max(max_credits - ledger.total, 0)),
            billed_tier((submission.config or {}).get("service_tier")),
        )
        return Budget(max_credits, (submission.config or {}).get("service_tier"), ledger)

    def trigger_for(self, prediction_ids: list[str], waiting_since: float | None = None) -> PredictionTrigger:
        """One trigger for every waiting id; its absolute deadline is fixed now, once per try, so a
        triggerer restart neither resets nor extends it."""
        return PredictionTrigger(
            prediction_ids=prediction_ids,
            vlm_conn_id=self.vlm_conn_id,
            deadline=None if self.timeout is None else time.time() + self.timeout,
            poll_interval=self.poll_interval,
            max_poll_interval=self.max_poll_interval,
            max_concurrency=self.max_concurrent_polls,
            waiting_since=waiting_since,
        )

    # --- resume: fetch results, write them, apply the failure policy ---------------------------

    def recorded_waiting_ids(self, context: Context) -> list[str]:
        entries = BatchState.from_context(context).entries.values()
        return [e.record.prediction_id for e in entries if e.record.prediction_id and e.status is None]

    @task_entry
    @hands_over_to_retries
    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the trigger; what is needed comes from the event and the durable state."""
        ev = PredictionEvent.from_dict(event)
        waited = (
            ""
            if ev.waiting_since is None
            else f" after waiting {duration_text(time.time() - ev.waiting_since)}"
        )
        self.log.info("wait ended%s: %s (%s)", waited, ev.status.value, ev.message)
        if ev.status is WaitStatus.TIMEOUT:
            raise BatchTimeoutError(
                f"the batch did not finish within {self.timeout or 0:g}s: {ev.message}; "
                "a retry re-attaches to the waiting predictions"
            )
        return self._finish(context, ev)

    def _finish(self, context: Context, event: PredictionEvent | None) -> dict[str, Any]:
        state = BatchState.from_context(context)
        labels = state.load_inputs()
        if labels is None:  # submitted by a version that did not store its listing
            labels = [label for label, _ in self.resolve_inputs()]
        ledger = Ledger.load(state.store, clear_number(context)) if self.max_credits is not None else None
        left = state.load_left() if ledger is not None and ledger.stopped else {}
        schema = SchemaCheck.from_json(state.load_schema())
        collector = Collector(
            client=self.hook.get_client(),
            state=state,
            clear=clear_number(context),
            validator=self.response_validator(),
            max_concurrent_polls=self.max_concurrent_polls,
            log=self.log,
            metric_tags=self.metric_tags,
            left=left,
        )
        with ResultWriter(
            self.output_path, self.max_xcom_results_bytes, tier=self.requested_tier(), schema=schema
        ) as writer:
            if ledger is not None:
                writer.budget = budget_figures(
                    parse_max_credits(self.max_credits, owner=self.task_id), ledger, len(left)
                )
            collector.run(labels, writer, event.message if event is not None else "no wait")
            summary = writer.summary()
        self._lineage_labels = labels
        self._lineage_prediction_ids = collector.prediction_ids
        self._lineage_summary = summary
        if left:
            raise_over_budget(summary, left, self.log)
        apply_failure_policy(summary, self.max_failed_fraction, self.log)
        if schema is not None:  # a good night: its schema is "the last one" for the next
            ti = context["ti"]
            remember(ti.dag_id, ti.task_id, schema.domain, schema.current, ti.run_id)
        return summary

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Called by the OpenLineage provider after a successful try: inputs, output folder, cost."""
        from airflow_provider_vlm.lineage import dataset, operator_lineage

        return operator_lineage(
            inputs=[dataset(label) for label in self._lineage_labels],
            outputs=[] if self.output_path is None else [dataset(self.output_path)],
            domain=self.domain,
            model=self.model,
            media=self.media,
            prediction_ids=self._lineage_prediction_ids,
            credits_used=self._lineage_summary.get("credits_used"),
            schema_hash=self._lineage_summary.get("schema_hash"),
            schema_version=self._lineage_summary.get("schema_version"),
        )


__all__ = [
    "BatchFailedError",
    "BatchInputsRefusedError",
    "BatchTimeoutError",
    "BatchTooFewInputsError",
    "GenerateBatchOperator",
    "SchemaPinError",
]
