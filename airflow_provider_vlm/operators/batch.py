"""``GenerateBatchOperator``: many documents in one task and one trigger.

One mapped task per document costs a worker start and a resume per document and stops at
``[core] max_map_length``; this operator submits every input from one task (a bounded pool of
submit calls), defers once to a ``PredictionTrigger`` that polls all the ids, then fetches the
results on the worker and writes them to storage. The event stays small: ids, counts, a message.

Each input follows ``durable``'s rules (the same as ``GenerateOperator``): its record (fingerprint,
clear number, generation, intent, prediction id) lives in ``task_state_store`` (see
``_batch_state``), so a retry re-attaches to live predictions, keeps completed ones and submits
only inputs without a prediction or whose prediction failed.
"""

from __future__ import annotations

import ast
import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import BaseOperator, conf
from pydantic import BaseModel

from airflow_provider_vlm.client import (
    APIError,
    AsyncVlmClient,
    ConfigurationError,
    GenerationConfig,
    InvalidRequestError,
    OutcomeUnknownError,
    Prediction,
    PredictionStatus,
    RequestMetadata,
    ResponseValidationError,
    VlmClient,
    VlmError,
    VlmInputError,
)
from airflow_provider_vlm.durable import Step, after_status, decide, intent
from airflow_provider_vlm.events import PredictionEvent, WaitStatus
from airflow_provider_vlm.hooks.vlm import VlmHook
from airflow_provider_vlm.identity import idempotency_key
from airflow_provider_vlm.operators._batch_output import (
    COMPLETED,
    FAILED,
    INVALID,
    InputResult,
    ResultWriter,
    as_storage_path,
)
from airflow_provider_vlm.operators._batch_state import BatchState, InputState
from airflow_provider_vlm.operators._common import (
    DEFER_GRACE,
    PredictionRequestMixin,
    clear_number,
    task_identity,
)
from airflow_provider_vlm.operators._domain import check_domain
from airflow_provider_vlm.operators._inputs import LoadedInput, check_arguments, load_images, load_input
from airflow_provider_vlm.operators._submission import Submission
from airflow_provider_vlm.retry_policy import default_retry_policy
from airflow_provider_vlm.sensors._completion import PredictionWaitError
from airflow_provider_vlm.triggers.prediction import SWEEP_MIN_IDS, SWEEP_PAGE_SIZE, PredictionTrigger
from airflow_provider_vlm.validation import validate_against_model, validate_against_schema

if TYPE_CHECKING:
    from airflow.sdk import Context

T = TypeVar("T")
R = TypeVar("R")

_MAX_ERROR_CHARS = 300


class BatchTimeoutError(VlmError, TimeoutError):
    """Some predictions were still waiting at the try's deadline; a retry re-attaches to them."""


class BatchFailedError(VlmError):
    """More inputs failed than ``max_failed_fraction`` allows; every failed input is in the output."""

    def __init__(self, message: str, summary: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.summary = dict(summary)


@dataclass
class _Planned:
    """One loaded input and what the durable rules say to do with it."""

    label: str
    loaded: LoadedInput
    fingerprint: str
    step: Step
    generation: int
    prediction_id: str | None = None
    previous: InputState | None = None


class _NotSent(VlmError):
    """A submit skipped because the batch already stopped on another input's error."""


def _is_input_problem(error: VlmError) -> bool:
    """Errors that concern one input only (refused content, too large): reported, the batch goes on."""
    if isinstance(error, (InvalidRequestError, VlmInputError)) and not isinstance(error, ConfigurationError):
        return True
    return isinstance(error, APIError) and error.status_code in (413, 415)


def _batched(items: Sequence[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def _short(text: object) -> str:
    value = str(text)
    return value if len(value) <= _MAX_ERROR_CHARS else value[: _MAX_ERROR_CHARS - 1] + "…"


class GenerateBatchOperator(PredictionRequestMixin, BaseOperator):
    """Run one prediction per input, wait for all of them in one trigger, write the results.

    :param domain: e.g. ``document.invoice``.
    :param media: ``image``, ``document``, ``audio`` or ``video``; every input is one of these.
    :param inputs: list of local paths, ``ObjectStoragePath``/URIs (``s3://…``) or http(s) URLs,
        templated (e.g. a listing task's ``.output``). Exactly one of ``inputs`` and ``source``.
    :param source: a folder (local path, URI or ``ObjectStoragePath``) whose files matching
        ``pattern`` are the inputs, in sorted order.
    :param pattern: glob under ``source`` (default ``*``; ``**/*.pdf`` recurses).
    :param output_path: folder (local, ``s3://…``, ``ObjectStoragePath``) for ``results.jsonl``
        (one line per input) and ``summary.json``.
    :param max_active_submissions: concurrent submit calls (uploads and creates).
    :param max_failed_fraction: the task fails when more than this fraction of inputs failed;
        ``0`` (default) fails on any failure, ``1`` never fails for failed inputs.
    :param timeout: how long one try waits for the whole batch (seconds or timedelta).
    :param max_concurrent_polls: concurrent status and result calls (trigger and worker).
    :param max_xcom_results_bytes: without ``output_path``, the full results go to XCom only up
        to this size (JSON); larger results are left out of XCom, with a warning.

    ``model``, ``config``, ``metadata``, ``callback_url``, ``autocast``, ``response_model``,
    ``deferrable``, ``poll_interval``, ``max_poll_interval`` and ``vlm_conn_id`` mean what they
    mean for ``GenerateOperator``. See ``docs/batch.md``.
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
        timeout: float | timedelta | None = 6 * 3600.0,
        max_concurrent_polls: int = 20,
        max_xcom_results_bytes: int = 512_000,
        vlm_conn_id: str = VlmHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("retry_policy", default_retry_policy())
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
        )
        self.inputs = inputs
        self.source = source
        self.pattern = pattern
        self.output_path = output_path
        self.max_active_submissions = max_active_submissions
        self.max_failed_fraction = float(max_failed_fraction)
        self.deferrable = deferrable
        self.max_concurrent_polls = max_concurrent_polls
        self.max_xcom_results_bytes = max_xcom_results_bytes

    # --- inputs --------------------------------------------------------------------------------

    def resolve_inputs(self) -> list[tuple[str, Any]]:
        """``(label, source)`` per input, duplicates dropped; the label keys the durable state."""
        if self.source is not None:
            folder = as_storage_path(self.source)
            if not folder.is_dir():
                raise VlmInputError(f"{self.task_id}: source is not a folder: {folder}")
            values: list[Any] = sorted((p for p in folder.glob(self.pattern) if p.is_file()), key=str)
            if not values:
                self.log.warning("no file under %s matches %r", folder, self.pattern)
        else:
            values = self._input_list(self.inputs)
        seen: dict[str, Any] = {}
        for value in values:
            if isinstance(value, str):
                label = value.strip()
            elif isinstance(value, os.PathLike) or hasattr(value, "read_bytes"):
                label = str(value)
            else:
                label = ""
            if not label:
                raise VlmInputError(f"{self.task_id}: inputs must be paths, URIs or URLs; got {value!r}")
            if label in seen:
                self.log.warning("input %s is listed twice; processing it once", label)
                continue
            seen[label] = value
        return list(seen.items())

    def _input_list(self, value: Any) -> list[Any]:
        if isinstance(value, str):
            try:
                value = ast.literal_eval(value.strip())  # a rendered Jinja list without native rendering
            except (ValueError, SyntaxError):
                raise VlmInputError(
                    f"{self.task_id}: inputs must be a list; got the string {_short(value)!r} "
                    "(pass a task's .output, or set render_template_as_native_obj=True)"
                ) from None
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
            raise VlmInputError(f"{self.task_id}: inputs must be a list, got {type(value).__name__}")
        return list(value)

    def _load(self, item: tuple[str, Any]) -> LoadedInput | VlmInputError:
        _, value = item
        try:
            if self.media == "image":
                return load_images([value])
            return load_input(file=value)
        except VlmInputError as exc:
            return exc

    # --- execute: submit what needs submitting, then wait --------------------------------------

    def execute(self, context: Context) -> Any:
        items = self.resolve_inputs()
        state = BatchState.from_context(context)
        client = self.hook.get_client()
        check_domain(client, self.domain)
        self.log.info("batch of %s inputs (%s)", f"{len(items):,}", self.media)
        waiting = self._submit_all(context, items, state, client)
        if not waiting:
            self.log.info("no prediction is waiting: writing the results")
            return self._finish(context, None)

        trigger = self.trigger_for(waiting)
        if self.deferrable:
            self.log.info("deferring: %s predictions waiting", f"{len(waiting):,}")
            self.defer(
                trigger=trigger,
                method_name="execute_complete",
                timeout=None
                if self.timeout is None
                else timedelta(seconds=self.timeout + self.max_poll_interval + DEFER_GRACE),
            )
        self.log.info("waiting on the worker: %s predictions", f"{len(waiting):,}")
        event = asyncio.run(self._wait_here(trigger))
        return self.execute_complete(context, event.to_dict())

    def trigger_for(self, prediction_ids: list[str]) -> PredictionTrigger:
        """One trigger for every waiting id; its deadline is fixed now, once per try."""
        return PredictionTrigger(
            prediction_ids=prediction_ids,
            vlm_conn_id=self.vlm_conn_id,
            deadline=None if self.timeout is None else time.time() + self.timeout,
            poll_interval=self.poll_interval,
            max_poll_interval=self.max_poll_interval,
            max_concurrency=self.max_concurrent_polls,
        )

    async def _wait_here(self, trigger: PredictionTrigger) -> PredictionEvent:
        """``deferrable=False``: the trigger's own wait loop (same backoff, same event), on the worker."""
        s = self.hook.client_settings()
        async with AsyncVlmClient(
            s.api_key,
            s.base_url,
            timeout=s.timeout,
            max_retries=s.max_retries,
            verify=s.verify,
            max_connections=self.max_concurrent_polls,
        ) as client:
            return await trigger.wait(client)

    def _submit_all(
        self, context: Context, items: list[tuple[str, Any]], state: BatchState, client: VlmClient
    ) -> list[str]:
        """Apply the durable rules per input, in waves; return the ids still waiting."""
        identity = task_identity(context)
        clear = clear_number(context)
        submission = self.submission()
        waiting: list[str] = []
        invalid: dict[str, str] = {}
        ambiguous: list[_Planned] = []
        counts = {"kept": 0, "attached": 0, "submitted": 0, "resubmitted": 0}
        wave_size = max(4 * self.max_active_submissions, 32)
        last_log = time.monotonic()
        stop = threading.Event()

        def submit(plan: _Planned) -> Prediction | VlmError:
            if stop.is_set():
                return _NotSent("not submitted: the batch stopped on an earlier error")
            key = idempotency_key(identity, plan.fingerprint, plan.generation)
            try:
                return submission.submit(client, plan.loaded, batch=True, idempotency_key=key)
            except VlmError as exc:
                if not isinstance(exc, OutcomeUnknownError) and not _is_input_problem(exc):
                    stop.set()  # a rate limit past the client's retries, a rejected key...: stop
                return exc

        with ThreadPoolExecutor(self.max_active_submissions, thread_name_prefix="vlm-submit") as pool:
            for done, wave in enumerate(_batched(items, wave_size), start=1):
                plans = self._plan_wave(wave, state, submission, clear, client, pool, invalid)
                for plan in plans:
                    if plan.step is Step.RETURN:
                        counts["kept"] += 1
                    elif plan.step is Step.ATTACH:
                        counts["attached"] += 1
                        assert plan.prediction_id is not None
                        waiting.append(plan.prediction_id)
                to_submit = [p for p in plans if p.step in (Step.SUBMIT, Step.RESUBMIT)]
                for plan in to_submit:
                    state.put(plan.label, InputState(intent(plan.fingerprint, clear, plan.generation)))
                state.flush()  # the intents are durable before anything is sent
                results = list(pool.map(submit, to_submit))
                error = self._record_submits(to_submit, results, state, waiting, invalid, ambiguous, counts)
                state.flush()
                if error is not None:
                    state.save_invalid(invalid)
                    raise error
                if time.monotonic() - last_log > 5 or done * wave_size >= len(items):
                    last_log = time.monotonic()
                    self.log.info(
                        "submitting: %s/%s inputs done (%s)",
                        f"{min(done * wave_size, len(items)):,}",
                        f"{len(items):,}",
                        ", ".join(f"{k} {v:,}" for k, v in counts.items()) + f", invalid {len(invalid):,}",
                    )
            if ambiguous:
                self._settle_ambiguous(ambiguous, submit, pool, state, waiting, invalid, counts)
        state.save_invalid(invalid)
        return waiting

    def _plan_wave(
        self,
        wave: list[tuple[str, Any]],
        state: BatchState,
        submission: Submission,
        clear: int,
        client: VlmClient,
        pool: ThreadPoolExecutor,
        invalid: dict[str, str],
    ) -> list[_Planned]:
        """Load (hash) each input and decide what to do, asking the server only about unknown statuses."""
        plans: list[_Planned] = []
        for (label, _), loaded in zip(wave, pool.map(self._load, wave), strict=True):
            if isinstance(loaded, VlmInputError):
                invalid[label] = _short(loaded.message)
                continue
            fingerprint = submission.fingerprint(loaded)
            previous = state.entries.get(label)
            decision = decide(previous.record if previous else None, fingerprint, clear)
            if decision.step is Step.CHECK and previous is not None and previous.status is not None:
                decision = after_status(previous.record, previous.status)
            plans.append(
                _Planned(
                    label,
                    loaded,
                    fingerprint,
                    decision.step,
                    decision.generation,
                    decision.prediction_id,
                    previous,
                )
            )
        unknown = [p for p in plans if p.step is Step.CHECK]
        if unknown:
            ids = [p.prediction_id or "" for p in unknown]
            for plan, prediction in zip(unknown, pool.map(client.get_prediction, ids), strict=True):
                assert plan.previous is not None
                decision = after_status(plan.previous.record, prediction.status)
                plan.step, plan.generation = decision.step, decision.generation
                state.put(plan.label, plan.previous.with_status(prediction.status))
        for plan in plans:
            if plan.step is Step.RESUBMIT:
                self.log.warning(
                    "%s: an earlier try's submit lost its answer; resubmitting with the same "
                    "Idempotency-Key (a server that does not honour it may bill a duplicate)",
                    plan.label,
                )
        return plans

    def _record_submits(
        self,
        plans: list[_Planned],
        results: list[Prediction | VlmError],
        state: BatchState,
        waiting: list[str],
        invalid: dict[str, str],
        ambiguous: list[_Planned],
        counts: dict[str, int],
    ) -> VlmError | None:
        """Write each answer into the state; return the first error that must stop the batch."""
        error: VlmError | None = None
        for plan, result in zip(plans, results, strict=True):
            if isinstance(result, Prediction):
                record = state.entries[plan.label].record.with_prediction(result.id)
                state.put(plan.label, InputState(record).with_status(result.status))
                counts["resubmitted" if plan.step is Step.RESUBMIT else "submitted"] += 1
                if not result.status.is_terminal:
                    waiting.append(result.id)
            elif isinstance(result, OutcomeUnknownError):
                ambiguous.append(plan)
            elif _is_input_problem(result):
                invalid[plan.label] = _short(f"not submitted: {result}")
            elif error is None and not isinstance(result, _NotSent):
                error = result
        return error

    def _settle_ambiguous(
        self,
        ambiguous: list[_Planned],
        submit: Callable[[_Planned], Prediction | VlmError],
        pool: ThreadPoolExecutor,
        state: BatchState,
        waiting: list[str],
        invalid: dict[str, str],
        counts: dict[str, int],
    ) -> None:
        """Submits whose answer was lost: once more with the same key, as a retry would."""
        self.log.warning(
            "%d submit(s) lost their answer; resubmitting them with the same Idempotency-Key "
            "(a server that does not honour it may bill duplicates)",
            len(ambiguous),
        )
        for plan in ambiguous:
            plan.step = Step.RESUBMIT
        still: list[_Planned] = []
        results = list(pool.map(submit, ambiguous))
        error = self._record_submits(ambiguous, results, state, waiting, invalid, still, counts)
        state.flush()
        if error is None and still:
            first = next(r for r in results if isinstance(r, OutcomeUnknownError))
            error = OutcomeUnknownError(
                f"{len(still)} submit(s) lost their answer twice; a retry resubmits them with the same "
                f"Idempotency-Key. First: {still[0].label}: {first.message}",
                cause=first.cause,
            )
        if error is not None:
            state.save_invalid(invalid)
            raise error

    # --- resume: fetch results, write them, apply the failure policy ---------------------------

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the trigger; what is needed comes from the event and the durable state."""
        ev = PredictionEvent.from_dict(event)
        self.log.info("wait ended: %s (%s)", ev.status.value, ev.message)
        if ev.status is WaitStatus.TIMEOUT:
            raise BatchTimeoutError(
                f"the batch did not finish within {self.timeout or 0:g}s: {ev.message}; "
                "a retry re-attaches to the waiting predictions"
            )
        return self._finish(context, ev)

    def _finish(self, context: Context, event: PredictionEvent | None) -> dict[str, Any]:
        items = self.resolve_inputs()
        state = BatchState.from_context(context)
        clear = clear_number(context)
        client = self.hook.get_client()
        invalid = state.load_invalid()
        check = self._response_check(client)

        ids = {
            label: entry.record.prediction_id
            for label, entry in state.entries.items()
            if entry.record.clear_number == clear and entry.record.prediction_id is not None
        }
        try:  # a few list pages instead of one GET per input; what they miss is fetched by id
            listed = (
                client.find_predictions(ids.values(), SWEEP_PAGE_SIZE) if len(ids) >= SWEEP_MIN_IDS else {}
            )
        except VlmError as exc:
            self.log.warning("listing predictions failed (%s); fetching them one by one", exc)
            listed = {}

        def fetch(label: str) -> Prediction | None:
            prediction_id = ids.get(label)
            if prediction_id is None:
                return None
            found = listed.get(prediction_id)
            # A list reply that leaves out a finished prediction's response is completed by id.
            if found is None or (found.status.is_success and found.response is None):
                return client.get_prediction(prediction_id)
            return found

        unfinished = 0
        with (
            ThreadPoolExecutor(self.max_concurrent_polls, thread_name_prefix="vlm-fetch") as pool,
            ResultWriter(self.output_path, self.max_xcom_results_bytes) as writer,
        ):
            labels = [label for label, _ in items]
            for label, prediction in zip(labels, pool.map(fetch, labels), strict=True):
                if prediction is None:
                    reason = (
                        invalid.get(label)
                        or "not submitted: the input was not listed when the batch was submitted"
                    )
                    writer.add(InputResult(label, INVALID, error=reason))
                    continue
                if not prediction.status.is_terminal:
                    unfinished += 1
                    continue
                state.put(label, state.entries[label].with_status(prediction.status))
                writer.add(self._result(label, prediction, check))
            state.flush()
            if unfinished:
                reason = event.message if event is not None else "no wait"
                raise PredictionWaitError(
                    f"{unfinished} predictions are not finished after the wait ended ({reason}); "
                    "a retry re-attaches to them"
                )
            summary = writer.summary()
        self._apply_policy(summary)
        return summary

    def _response_check(self, client: VlmClient) -> Callable[[Prediction], None] | None:
        """The validation of completed responses; ``autocast`` fetches the domain's schema once."""
        if self.response_model is not None:
            model = self.response_model
            return lambda p: validate_against_model(p.response, model, prediction_id=p.id)
        if self.autocast:
            schema = client.get_schema(self.domain).json_schema
            source = f"{self.domain} schema"
            return lambda p: validate_against_schema(p.response, schema, prediction_id=p.id, source=source)
        return None

    def _result(
        self, label: str, prediction: Prediction, check: Callable[[Prediction], None] | None
    ) -> InputResult:
        record = prediction.record()
        if prediction.status is PredictionStatus.FAILED:
            return InputResult(
                label, FAILED, prediction.id, None, record["usage"], _short(prediction.error_message)
            )
        if check is not None:
            try:
                check(prediction)
            except ResponseValidationError as exc:
                return InputResult(
                    label, FAILED, prediction.id, prediction.response, record["usage"], _short(exc)
                )
        return InputResult(label, COMPLETED, prediction.id, prediction.response, record["usage"])

    def _apply_policy(self, summary: Mapping[str, Any]) -> None:
        total, failed = int(summary["total"]), int(summary["failed_total"])
        counts = ", ".join(f"{k} {v:,}" for k, v in summary["counts"].items()) or "no inputs"
        self.log.info("batch finished: %s; credits used %s", counts, summary["credits_used"])
        if not failed:
            return
        fraction = failed / total if total else 0.0
        listed = "; ".join(f"{f['input']}: {f['error']}" for f in summary["failed_inputs"][:5])
        where = f" Every result is in {summary['output']['results']}." if summary.get("output") else ""
        if fraction > self.max_failed_fraction:
            raise BatchFailedError(
                f"{failed:,} of {total:,} inputs failed ({fraction:.1%} > max_failed_fraction "
                f"{self.max_failed_fraction:g}): {listed}.{where}",
                summary,
            )
        self.log.warning(
            "%s of %s inputs failed (%.1f%%, allowed up to %g): %s.%s",
            f"{failed:,}",
            f"{total:,}",
            fraction * 100,
            self.max_failed_fraction,
            listed,
            where,
        )


__all__ = ["BatchFailedError", "BatchTimeoutError", "GenerateBatchOperator"]
