"""Submitting a batch: every input through the durable record's rules, in waves, with bounded concurrency.

A retry first reads the statuses of the recorded predictions from list pages (one sweep, not a
GET each). Per wave: load (hash) the inputs, decide per input with ``durable.check_recorded`` (a
recorded prediction whose status cannot be read now is re-attached, not looked up until it
answers), upload what must be submitted (an md5 lookup first only for inputs an earlier try or
clear recorded), write the intents together with the previous wave's ids, then create the
predictions. An input the server refuses (the error table's ``input_problem``) is reported and
the batch goes on. An input that meets a transient error does not stop the others. Each call of
an input (upload, create) is attempted at most ``max_retries + 1`` times in a try, whatever
retries it: the client's own retries and the settle rounds after the last wave share that budget.
A round is needed only for a call the client may not resend itself (a create whose answer was
lost, resent with the same ``Idempotency-Key``) and runs with what is left of its budget; what is
still unsettled then fails the try, whose retry picks it up from the record. Any other error (a
rejected key...) stops the batch once what was created is recorded.

With a budget (``max_credits``, ``_budget``), each create's estimate is reserved, in input order,
before anything of that wave is uploaded; the first input that does not fit stops the
submitting: it and every later input that needed a submit are left (``left``), while inputs
already submitted by earlier tries are still kept or re-attached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

from airflow_provider_vlm.client import (
    OutcomeUnknownError,
    Prediction,
    PredictionStatus,
    TransportError,
    VlmClient,
    VlmError,
    VlmInputError,
    attempts_at_most,
)
from airflow_provider_vlm.durable import Step, check_recorded, intent
from airflow_provider_vlm.identity import idempotency_key
from airflow_provider_vlm.operators._batch_collect import read_listed
from airflow_provider_vlm.operators._batch_inputs import load_one, short
from airflow_provider_vlm.operators._batch_state import BatchState, InputState, Refusal
from airflow_provider_vlm.operators._budget import Budget, estimate
from airflow_provider_vlm.operators._inputs import LoadedInput
from airflow_provider_vlm.operators._submission import Submission

T = TypeVar("T")

#: Seconds between progress lines.
PROGRESS_EVERY = 5.0
#: First pause before a settle round (doubling) and its cap; a server's ``Retry-After`` wins. The
#: number of rounds is bounded by the budget: each round spends an attempt of every input in it.
SETTLE_BACKOFF = 2.0
SETTLE_MAX_PAUSE = 30.0


def batched(items: Sequence[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


UPLOAD, CREATE = "upload", "create"


class _NotSent(VlmError):
    """A submit skipped because the batch already stopped on another input's error."""


@dataclass
class Planned:
    """One loaded input and what the durable rules say to do with it."""

    label: str
    loaded: LoadedInput
    fingerprint: str
    step: Step
    generation: int
    prediction_id: str | None = None
    source: dict[str, Any] | None = None
    status_unread: bool = False
    #: An earlier try or clear has a record of this input, so its bytes may be stored already.
    recorded: bool = False
    #: Attempts this try spent on the input's upload and on its create (the budget is per call).
    spent: dict[str, int] = field(default_factory=lambda: {UPLOAD: 0, CREATE: 0})
    #: Its create's estimate is reserved under ``max_credits`` (reserved again when resent).
    charged: bool = False

    def stage(self) -> str:
        """The call the input is at: its upload until that succeeded, then its create."""
        return CREATE if self.source is not None else UPLOAD


@dataclass
class BatchSubmitter:
    """One try's submit step; ``run`` returns the ids still waiting."""

    submission: Submission
    client: VlmClient
    state: BatchState
    identity: str
    clear: int
    media: str
    max_active_submissions: int
    log: Any
    waiting: list[str] = field(default_factory=list)
    invalid: dict[str, str] = field(default_factory=dict)
    #: Inputs refused for what they are (an ``input_problem`` reply to their upload or create):
    #: recorded, so that a retry of the same clear does not send them again.
    refused: dict[str, Refusal] = field(default_factory=dict)
    #: Inputs that met a transient error this try, with the last error: settled after the waves.
    unsettled: list[tuple[Planned, VlmError]] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {"kept": 0, "attached": 0, "submitted": 0, "resubmitted": 0}
    )
    _stop: threading.Event = field(default_factory=threading.Event)
    #: Statuses of recorded predictions read from list pages up front (a retry of a big batch).
    _listed: dict[str, PredictionStatus] = field(default_factory=dict)
    #: What earlier tries recorded as refused.
    _earlier_refused: dict[str, Refusal] = field(default_factory=dict)
    _refusals_saved: int = 0
    #: The credit budget (``max_credits``), or ``None``.
    budget: Budget | None = None
    #: Inputs not submitted because of the budget, with the reason (in input order).
    left: dict[str, str] = field(default_factory=dict)
    #: A call that used its whole budget without reaching the server: the rest are not sent.
    _dead: TransportError | None = None

    @property
    def attempts_per_call(self) -> int:
        """The retry budget of each call of an input in one try: ``max_retries + 1`` attempts."""
        return self.client.retry_policy.max_retries + 1

    def _left(self, plan: Planned) -> int:
        return self.attempts_per_call - plan.spent[plan.stage()]

    def run(self, items: list[tuple[str, Any]]) -> list[str]:
        wave_size = max(4 * self.max_active_submissions, 32)
        last_log = time.monotonic()
        self._listed = self._read_recorded()
        self._earlier_refused = self.state.load_refused()
        with ThreadPoolExecutor(self.max_active_submissions, thread_name_prefix="vlm-submit") as pool:
            try:
                for done, wave in enumerate(batched(items, wave_size), start=1):
                    self._wave(wave, pool)
                    self._stop_if_unreachable(min(done * wave_size, len(items)), len(items))
                    if time.monotonic() - last_log > PROGRESS_EVERY or done * wave_size >= len(items):
                        last_log = time.monotonic()
                        self._progress(min(done * wave_size, len(items)), len(items))
                if self.unsettled:
                    self._settle(pool)
                    self._progress(len(items), len(items))
            finally:
                self.state.flush()  # the last wave's ids, also when an error stopped the batch
        self._save_invalid()
        if self.budget is not None:
            self.state.save_left(self.left)
        return self.waiting

    def _stop_if_unreachable(self, looked_at: int, total: int) -> None:
        """End the try once a call used its whole budget without reaching the server at all.

        The other inputs would meet the same closed port or unreachable host, each spending its
        own budget: a try against a dead endpoint is bounded by the domain check and one wave
        (``docs/retries.md``), not by the number of inputs.
        """
        dead = self._dead
        if dead is None:
            return
        self._progress(looked_at, total)
        self._save_invalid()
        raise BatchSubmitIncomplete(
            f"the server cannot be reached: {dead}; stopped submitting after {looked_at:,} of "
            f"{total:,} inputs (the rest would meet the same). A retry of the task submits what was "
            "not submitted and re-attaches to the rest"
        )

    def _progress(self, looked_at: int, total: int) -> None:
        """One line whose counts add up to the inputs looked at: each says what happened to them."""
        self.log.info(
            "submitting: %s/%s inputs looked at: %s, invalid %s, not submitted yet (transient errors) %s",
            f"{looked_at:,}",
            f"{total:,}",
            ", ".join(f"{k} {v:,}" for k, v in self.counts.items()),
            f"{len(self.invalid):,}",
            f"{len(self.unsettled):,}",
        )

    def _save_invalid(self) -> None:
        self.state.save_invalid(self.invalid, self.refused)
        self._refusals_saved = len(self.refused)

    def _refuse(self, plan: Planned, error: VlmError) -> None:
        """An input refused for what it is: reported, and recorded so a retry leaves it alone."""
        self.invalid[plan.label] = reason = short(f"not submitted: {error}")
        self.refused[plan.label] = Refusal(reason, plan.fingerprint, self.clear)

    def _refused_before(self, label: str, loaded: LoadedInput) -> bool:
        """Refused by an earlier try of this clear, and still the same input: not sent again."""
        earlier = self._earlier_refused.get(label)
        if earlier is None or earlier.clear_number != self.clear:
            return False
        if earlier.fingerprint != self.submission.fingerprint(loaded):
            return False
        self.invalid[label] = earlier.reason
        self.refused[label] = earlier
        return True

    def _read_recorded(self) -> dict[str, PredictionStatus]:
        """One list sweep for every recorded prediction whose status the state does not know.

        A retry of a 10,000-input batch would otherwise read each one with its own GET. What the
        pages miss is read by id in ``_decide``, with the usual rules.
        """
        ids = [
            e.record.prediction_id
            for e in self.state.entries.values()
            if e.record.prediction_id is not None and e.status is None and e.record.clear_number == self.clear
        ]
        return {pid: p.status for pid, p in read_listed(self.client, ids, self.log).items()}

    # --- one wave ------------------------------------------------------------------------------

    def _wave(self, wave: list[tuple[str, Any]], pool: ThreadPoolExecutor) -> None:
        plans = self._plan(wave, pool)
        for plan in plans:
            if plan.step is Step.RETURN:
                self.counts["kept"] += 1
            elif plan.step is Step.ATTACH:
                self.counts["attached"] += 1
                assert plan.prediction_id is not None
                self.waiting.append(plan.prediction_id)
        self._submit([p for p in plans if p.step in (Step.SUBMIT, Step.RESUBMIT)], pool)

    def _admit(self, plans: list[Planned]) -> list[Planned]:
        """Reserve each create's estimate in input order; the ledger is durable before any create."""
        if self.budget is None:
            return plans
        admitted = []
        reserved = False
        for plan in plans:
            if not plan.charged:
                cost = estimate(plan.loaded, self.media, self.submission.domain, self.submission.config)
                if cost.credits is None:  # not the budget running out: this input cannot be priced
                    self.invalid[plan.label] = short(
                        f"not submitted under max_credits: {cost.unknown}; run it without max_credits"
                    )
                    continue
                reason = self.budget.admit(cost)
                if reason is not None:
                    self.left[plan.label] = reason
                    continue
                plan.charged = reserved = True
            admitted.append(plan)
        if reserved:
            self.budget.ledger.save(self.state.store)
        return admitted

    def _submit(self, plans: list[Planned], pool: ThreadPoolExecutor) -> None:
        """Upload, write the intents, create, record; a fatal error stops the batch here."""
        prepared = self._prepare(self._admit(plans), pool)
        for plan in prepared:  # the intents are durable before anything billed is sent
            self.state.put(plan.label, InputState(intent(plan.fingerprint, self.clear, plan.generation)))
        self.state.flush()
        error = self._record(prepared, list(pool.map(self._create, prepared)))
        if len(self.refused) != self._refusals_saved:  # durable now: a crash must not forget them
            self._save_invalid()
        # The ids go out with the next wave's intents (one write of each chunk, not two); a crash
        # before that leaves intents, which a retry resends with their Idempotency-Keys.
        if error is not None:
            self._save_invalid()
            raise error

    def _plan(self, wave: list[tuple[str, Any]], pool: ThreadPoolExecutor) -> list[Planned]:
        """Load each input and decide; only statuses the state does not know are asked for."""
        loaded_wave = list(pool.map(lambda item: load_one(self.media, item[1]), wave))
        candidates: list[tuple[str, LoadedInput]] = []
        for (label, _), loaded in zip(wave, loaded_wave, strict=True):
            if isinstance(loaded, VlmInputError):
                self.invalid[label] = short(loaded.message)
            elif not self._refused_before(label, loaded):
                candidates.append((label, loaded))
        plans: list[Planned] = []
        unread = 0
        for plan, seen in pool.map(lambda c: self._decide(*c), candidates):
            plans.append(plan)
            if seen is not None:  # state is written here, in one thread
                self.state.put(plan.label, self.state.entries[plan.label].with_status(seen))
            if plan.step is Step.RESUBMIT:
                self.log.warning(
                    "%s: an earlier try's submit lost its answer; resubmitting with the same "
                    "Idempotency-Key (a server that does not honour it may bill a duplicate)",
                    plan.label,
                )
            unread += plan.status_unread
        if unread:
            self.log.warning(
                "%d recorded prediction(s) could not be looked up now (transient errors): re-attaching; "
                "the wait settles them",
                unread,
            )
        return plans

    def _decide(self, label: str, loaded: LoadedInput) -> tuple[Planned, PredictionStatus | None]:
        """The durable decision for one input (runs in a pool thread; writes nothing)."""
        fingerprint = self.submission.fingerprint(loaded)
        previous = self.state.entries.get(label)
        seen: list[PredictionStatus] = []

        def status_of(prediction_id: str) -> PredictionStatus:
            assert previous is not None
            if previous.status is not None:  # a terminal status seen by an earlier try
                return previous.status
            listed = self._listed.get(prediction_id)
            seen.append(listed if listed is not None else self.client.predictions.get(prediction_id).status)
            return seen[0]

        decision = check_recorded(previous.record if previous else None, fingerprint, self.clear, status_of)
        plan = Planned(
            label,
            loaded,
            fingerprint,
            decision.step,
            decision.generation,
            decision.prediction_id,
            status_unread=decision.status_unread,
            recorded=previous is not None,
        )
        return plan, (seen[0] if seen else None)

    def _prepare(self, plans: list[Planned], pool: ThreadPoolExecutor) -> list[Planned]:
        """Upload what must be submitted: refused inputs are reported, transient failures settled
        later, any other error stops the batch."""

        def prepare(plan: Planned) -> dict[str, Any] | VlmError:
            if self._dead is not None:  # another input found the server unreachable: not sent
                return _NotSent(f"not sent: {self._dead}")
            try:
                # A nightly folder is mostly new files: an md5 lookup per input would be a third
                # of the submit requests and almost always miss. Only inputs with a record (a
                # retry, a Clear) may be stored already.
                with attempts_at_most(self._left(plan)):
                    return self.submission.prepare(self.client, plan.loaded, reuse=plan.recorded)
            except VlmError as exc:
                if isinstance(exc, TransportError) and exc.unreachable and exc.exhausted is not None:
                    self._dead = exc
                return exc

        ready: list[Planned] = []
        error: VlmError | None = None
        todo = [p for p in plans if p.source is None]  # a settle round keeps what was uploaded
        for plan, result in zip(todo, pool.map(prepare, todo), strict=True):
            if isinstance(result, _NotSent):
                self.unsettled.append((plan, result))
            elif isinstance(result, VlmError):
                if result.input_problem:
                    self._refuse(plan, result)
                elif result.transient:
                    plan.spent[UPLOAD] += result.attempts
                    self.unsettled.append((plan, result))
                elif error is None:
                    error = result
            else:
                plan.source = result
        ready = [p for p in plans if p.source is not None]
        if error is not None:
            self._save_invalid()
            raise error
        return ready

    def _create(self, plan: Planned) -> Prediction | VlmError:
        if self._stop.is_set():
            return _NotSent("not submitted: the batch stopped on an earlier error")
        assert plan.source is not None
        key = idempotency_key(self.identity, plan.fingerprint, plan.generation)
        try:
            with attempts_at_most(self._left(plan)):
                return self.submission.create(self.client, plan.source, batch=True, idempotency_key=key)
        except VlmError as exc:
            if not exc.transient and not exc.input_problem:
                self._stop.set()  # a rejected key, a conflict...: stop
            return exc

    def _record(self, plans: list[Planned], results: list[Prediction | VlmError]) -> VlmError | None:
        """Write each answer into the state; return the first error that must stop the batch."""
        error: VlmError | None = None
        for plan, result in zip(plans, results, strict=True):
            if isinstance(result, Prediction):
                record = self.state.entries[plan.label].record.with_prediction(result.id)
                self.state.put(plan.label, InputState(record).with_status(result.status))
                self.counts["resubmitted" if plan.step is Step.RESUBMIT else "submitted"] += 1
                if not result.status.is_terminal:
                    self.waiting.append(result.id)
            elif isinstance(result, _NotSent):
                continue
            elif result.transient:  # a lost answer is resent with the same key; others as they were
                if isinstance(result, OutcomeUnknownError):
                    plan.step = Step.RESUBMIT
                    plan.charged = False  # it may have billed: its resend is reserved again
                plan.spent[CREATE] += result.attempts
                self.unsettled.append((plan, result))
            elif result.input_problem:
                self._refuse(plan, result)
            elif error is None:
                error = result
        return error

    def _settle(self, pool: ThreadPoolExecutor) -> None:
        """Rounds, with backoff, for inputs that met a transient error with budget left (a create
        whose answer was lost); what is left then fails the try."""
        lost = sum(isinstance(e, OutcomeUnknownError) for _, e in self.unsettled)
        self.log.warning(
            "%d input(s) met transient errors (%d submit(s) lost their answer: resent with the same "
            "Idempotency-Key; a server that does not honour it may bill duplicates)",
            len(self.unsettled),
            lost,
        )
        delay = SETTLE_BACKOFF
        while again := [(plan, error) for plan, error in self.unsettled if self._left(plan) > 0]:
            spent = [(plan, error) for plan, error in self.unsettled if self._left(plan) <= 0]
            retry_after = max((e.retry_after or 0.0 for _, e in again), default=0.0)
            self.log.info(
                "trying %d input(s) again in %.0fs, within what is left of each call's %d attempts",
                len(again),
                max(delay, retry_after),
                self.attempts_per_call,
            )
            self.client.interruption.sleep(max(delay, retry_after))
            delay = min(delay * 2, SETTLE_MAX_PAUSE)
            self.unsettled = spent
            self._submit([plan for plan, _ in again], pool)
        if self.unsettled:
            plan, first = self.unsettled[0]
            self._save_invalid()
            raise BatchSubmitIncomplete(
                f"{len(self.unsettled)} input(s) could not be submitted in this try: their calls met "
                f"transient errors for all {self.attempts_per_call} attempts of the retry budget "
                f"(max_retries={self.attempts_per_call - 1}); a retry of the task submits only these "
                f"(lost answers with the same Idempotency-Key). First: {plan.label}: {first}"
            )


class BatchSubmitIncomplete(VlmError):
    """Some inputs could not be submitted this try for transient reasons: a task retry finishes them."""

    transient = True
