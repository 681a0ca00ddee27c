"""Collecting a batch: fetch each input's result on the worker, judge it, write it, apply the failure policy.

Results are fetched with a few list pages where the server allows (what they miss, by id),
judged by the same ``validation.ResponseValidator`` as ``GenerateOperator``'s (its schema compiled
once per task), and streamed to ``ResultWriter`` in input order. Each read has the client's retry
budget (``max_retries``) and no more: a read that outlasts it fails the try, whose retry collects
again without submitting anything.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_vlm import metrics
from airflow_provider_vlm.client import (
    Prediction,
    PredictionStatus,
    ResponseValidationError,
    VlmClient,
    VlmError,
    duration_text,
)
from airflow_provider_vlm.client.errors import TaskRetry
from airflow_provider_vlm.client.waiting import SWEEP_MIN_IDS, SWEEP_PAGE_SIZE
from airflow_provider_vlm.hooks.vlm import PredictionWaitError
from airflow_provider_vlm.operators._batch_inputs import short
from airflow_provider_vlm.operators._batch_output import (
    COMPLETED,
    FAILED,
    INVALID,
    NOT_SUBMITTED,
    InputResult,
    ResultWriter,
)
from airflow_provider_vlm.operators._batch_state import BatchState
from airflow_provider_vlm.operators._drift import summary_line
from airflow_provider_vlm.validation import ResponseValidator

#: Seconds between progress lines of the collect step.
PROGRESS_EVERY = 10.0
NOT_LISTED = "not submitted: the input was not listed when the batch was submitted"


class BatchTimeoutError(VlmError, TimeoutError):
    """Some predictions were still waiting at the try's deadline; a retry re-attaches to them."""


class BatchFailedError(VlmError):
    """More inputs failed than ``max_failed_fraction`` allows; every failed input is in the output."""

    def __init__(self, message: str, summary: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.summary = dict(summary)


class BatchInputsRefusedError(BatchFailedError):
    """Every failed input was refused for what it is (unreadable, empty, refused by the server).

    A retry would change nothing (refused inputs are recorded and not sent again in the same
    clear), so the default ``retry_policy`` fails the task without spending its retries.
    """

    input_problem = True
    task_retry = TaskRetry.FAIL


@dataclass
class Collector:
    """One try's collect step over the inputs in their stable order."""

    client: VlmClient
    state: BatchState
    clear: int
    validator: ResponseValidator
    max_concurrent_polls: int
    log: Any
    #: Tags of the metrics emitted for the results collected.
    metric_tags: dict[str, str] = field(default_factory=dict)
    #: The ids of the predictions collected, in input order (filled by ``run``).
    prediction_ids: list[str] = field(default_factory=list)
    #: Inputs the budget left unsubmitted in the last submitting try, with the reason.
    left: Mapping[str, str] = field(default_factory=dict)

    def run(self, labels: list[str], writer: ResultWriter, wait_message: str) -> None:
        invalid = self.state.load_invalid()
        ids = {
            label: entry.record.prediction_id
            for label, entry in self.state.entries.items()
            if entry.record.clear_number == self.clear and entry.record.prediction_id is not None
        }
        listed = self._list(list(ids.values()))
        if self.validator.active:
            self.validator.prepare(self.client)

        def fetch(label: str) -> Prediction | None:
            prediction_id = ids.get(label)
            if prediction_id is None or label in self.left:
                return None
            found = listed.get(prediction_id)
            # A list reply that leaves out a finished prediction's response is completed by id.
            if found is None or (found.status.is_success and found.response is None):
                return self.client.predictions.get(prediction_id)
            return found

        unfinished = 0
        finished: list[Prediction] = []
        judged_failed: list[str] = []
        started = last_log = time.monotonic()
        with ThreadPoolExecutor(self.max_concurrent_polls, thread_name_prefix="vlm-fetch") as pool:
            for done, (label, prediction) in enumerate(zip(labels, pool.map(fetch, labels), strict=True), 1):
                if label in self.left:
                    writer.add(InputResult(label, NOT_SUBMITTED, error=self.left[label]))
                elif prediction is None:
                    writer.add(InputResult(label, INVALID, error=invalid.get(label) or NOT_LISTED))
                elif not prediction.status.is_terminal:
                    unfinished += 1
                else:
                    self.state.put(label, self.state.entries[label].with_status(prediction.status))
                    result = self._result(label, prediction)
                    writer.add(result)
                    finished.append(prediction)
                    if result.status == FAILED:
                        judged_failed.append(prediction.id)
                if prediction is not None:
                    self.prediction_ids.append(prediction.id)
                if time.monotonic() - last_log > PROGRESS_EVERY:
                    last_log = time.monotonic()
                    elapsed = time.monotonic() - started
                    self.log.info(
                        "collecting: %s/%s results written (%.0f/s, about %s left)",
                        f"{done:,}",
                        f"{len(labels):,}",
                        done / elapsed,
                        duration_text((len(labels) - done) * elapsed / done),
                    )
        self.state.flush()
        metrics.finished(self.metric_tags, finished, judged_failed)
        self.log.info(
            "collected %s results in %.1fs%s",
            f"{len(labels):,}",
            time.monotonic() - started,
            " (responses validated)" if self.validator.active else "",
        )
        if unfinished:
            raise PredictionWaitError(
                f"{unfinished} predictions are not finished after the wait ended ({wait_message}); "
                "a retry re-attaches to them"
            )

    def _list(self, ids: list[str]) -> dict[str, Prediction]:
        return read_listed(self.client, ids, self.log)

    def _result(self, label: str, prediction: Prediction) -> InputResult:
        record = prediction.record()
        if prediction.status is PredictionStatus.FAILED:
            return InputResult(
                label, FAILED, prediction.id, None, record["usage"], short(prediction.error_message)
            )
        try:
            self.validator(self.client, prediction)
        except ResponseValidationError as exc:
            return InputResult(label, FAILED, prediction.id, prediction.response, record["usage"], short(exc))
        return InputResult(label, COMPLETED, prediction.id, prediction.response, record["usage"])


def read_listed(client: VlmClient, ids: list[str], log: Any) -> dict[str, Prediction]:
    """Many predictions from a few list pages instead of one GET each; the caller fetches what
    they miss by id. Below ``SWEEP_MIN_IDS`` ids, or when listing fails, nothing is read here."""
    if len(ids) < SWEEP_MIN_IDS:
        return {}
    try:
        return client.predictions.find(ids, SWEEP_PAGE_SIZE)
    except VlmError as exc:
        log.warning("listing predictions failed (%s); reading them one by one", exc)
        return {}


def apply_failure_policy(summary: Mapping[str, Any], max_failed_fraction: float, log: Any) -> None:
    """Log the outcome; raise ``BatchFailedError`` when more inputs failed than allowed."""
    total, failed = int(summary["total"]), int(summary["failed_total"])
    counts = ", ".join(f"{k} {v:,}" for k, v in summary["counts"].items()) or "no inputs"
    by_tier = ", ".join(f"{tier} {credits:g}" for tier, credits in summary.get("credits_by_tier", {}).items())
    log.info(
        "batch finished: %s; credits used %s%s%s",
        counts,
        f"{summary['credits_used']:g}",
        f" ({by_tier})" if by_tier else "",
        summary_line(summary),
    )
    if not failed:
        return
    fraction = failed / total if total else 0.0
    listed = "; ".join(f"{f['input']}: {f['error']}" for f in summary["failed_inputs"][:5])
    where = f" Every result is in {summary['output']['results']}." if summary.get("output") else ""
    if fraction > max_failed_fraction:
        message = (
            f"{failed:,} of {total:,} inputs failed ({fraction:.1%} > max_failed_fraction "
            f"{max_failed_fraction:g}): {listed}.{where}"
        )
        if summary["counts"].get(INVALID, 0) == failed:
            raise BatchInputsRefusedError(
                f"{message} Every failure is an input refused for what it is: a retry would not "
                "change it, so none is spent; fix or remove those inputs and clear the task.",
                summary,
            )
        raise BatchFailedError(message, summary)
    log.warning(
        "%s of %s inputs failed (%.1f%%, allowed up to %g): %s.%s",
        f"{failed:,}",
        f"{total:,}",
        fraction * 100,
        max_failed_fraction,
        listed,
        where,
    )
