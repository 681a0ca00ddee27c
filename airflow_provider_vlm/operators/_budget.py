"""``max_credits``: a task never sends a billed call that could take it over its budget.

Usage is known only once a prediction has finished, so the budget works with estimates made
before each create call: the input's billable elements (a PDF's pages read from its bytes, one
per image), capped by ``config.page_indices``, priced by the platform's rate card
(``client.pricing.credits``: the domain's rate at ``config.detail``, the grounding add-on, the
tier's factor, rounded up to a whole credit, as the platform bills; the dev server bills with
the same function). An estimate is an upper bound of what the call can bill; an input whose cost
cannot be bounded (a URL, a stored file id, audio, video, a PDF whose pages cannot be counted, an
unknown ``detail``) is not sent under a budget at all.

Every create reserves its estimate in the ledger (``task_state_store`` key ``vlm_credits``)
before it is sent, so the sum over every try of the task instance stays under ``max_credits``: a
retry counts what earlier tries reserved. A create whose answer was lost is reserved again when
it is resent (a server that does not honour ``Idempotency-Key`` bills it twice).

The ledger belongs to one ``dag_run.clear_number``, with one exception: a try that stopped on the
budget marks it ``stopped``, and the next Clear continues that night (the predictions already
made are kept, their reservations too) instead of extracting everything again. That is what
"raise the budget and clear the task" has to mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_vlm.client import VlmError, VlmInputError
from airflow_provider_vlm.client.errors import TaskRetry
from airflow_provider_vlm.client.pricing import billed_tier, config_credits
from airflow_provider_vlm.operators._inputs import LoadedInput, is_template
from airflow_provider_vlm.operators._pages import document_pages
from airflow_provider_vlm.state_store import RecordError, StateStore, read_value, write_value

#: ``task_state_store`` key of the ledger. Renaming it loses what earlier tries reserved.
LEDGER_KEY = "vlm_credits"
LEDGER_VERSION = 1
#: Media whose cost can be bounded before submitting (pages, images).
BOUNDED_MEDIA = ("document", "image")


class BudgetExceededError(VlmError):
    """``max_credits`` would be exceeded: nothing more was sent; what was billed is kept.

    A retry with the same budget would stop at the same place, so the default ``retry_policy``
    spends none: raise ``max_credits`` and clear the task (the Clear continues the night).
    """

    task_retry = TaskRetry.FAIL


def check_max_credits(value: Any, *, owner: str, media: str) -> float | str | None:
    """Parse-time check: ``None``, a positive number, or a template rendered later."""
    if value is None:
        return None
    if is_template(value):
        return str(value)
    credits = parse_max_credits(value, owner=owner)
    if media not in BOUNDED_MEDIA:
        raise VlmInputError(
            f"{owner}: max_credits needs inputs whose cost is known before submitting "
            f"({' or '.join(BOUNDED_MEDIA)}); the cost of {media} is not"
        )
    return credits


def parse_max_credits(value: Any, *, owner: str) -> float:
    """The rendered budget as a number of credits (a Variable renders as a string)."""
    try:
        credits = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise VlmInputError(f"{owner}: max_credits must be a number of credits, got {value!r}") from None
    if isinstance(value, bool) or not credits > 0:
        raise VlmInputError(f"{owner}: max_credits must be a number of credits > 0, got {value!r}")
    return credits


@dataclass(frozen=True)
class Estimate:
    """What one create call may bill at most, or why that is unknown."""

    credits: float | None
    elements: int | None = None
    unknown: str | None = None


def estimate(loaded: LoadedInput, media: str, domain: str, config: Mapping[str, Any] | None) -> Estimate:
    """An upper bound of one create call's credits: its elements priced by the rate card."""
    if media == "image":
        return _priced(max(len(loaded.images), 1), media, domain, config)
    if media != "document":
        return Estimate(None, unknown=f"the cost of {media} is not known before submitting")
    if loaded.content is None:
        kind = "a URL" if loaded.url is not None else "a stored file"
        return Estimate(None, unknown=f"its pages cannot be counted before submitting ({kind})")
    pages = document_pages(loaded.content)
    if pages is None:
        return Estimate(None, unknown="its pages cannot be counted from its bytes")
    indices = (config or {}).get("page_indices")
    if isinstance(indices, list) and indices:
        pages = min(pages, len(set(indices)))
    return _priced(pages, media, domain, config)


def _priced(elements: int, media: str, domain: str, config: Mapping[str, Any] | None) -> Estimate:
    """The card's whole credits for ``elements``, or why there is no price (an unknown ``detail``)."""
    try:
        return Estimate(float(config_credits(domain, elements, config, media=media)), elements)
    except VlmInputError as exc:
        return Estimate(None, unknown=f"no price for it: {exc}")


def credits_text(credits: float) -> str:
    return f"{credits:g}"


def by_tier_text(by_tier: Mapping[str, float]) -> str:
    """``flex 7.5, standard 2`` (or ``none``)."""
    return ", ".join(f"{tier} {credits_text(c)}" for tier, c in sorted(by_tier.items()) if c) or "none"


@dataclass
class Ledger:
    """Credits reserved by this task instance's create calls (upper-bound estimates), by tier."""

    clear_number: int
    reserved: dict[str, float] = field(default_factory=dict)
    #: The last try stopped on the budget: the next Clear continues this night.
    stopped: bool = False
    #: The clear number this ledger was carried over from, in this try (for the log line).
    continued_from: int | None = None

    @property
    def total(self) -> float:
        return round(sum(self.reserved.values()), 6)

    def reserve(self, tier: str | None, credits: float) -> None:
        key = billed_tier(tier)
        self.reserved[key] = round(self.reserved.get(key, 0.0) + credits, 6)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": LEDGER_VERSION,
            "clear_number": self.clear_number,
            "reserved": dict(self.reserved),
            "stopped": self.stopped,
        }

    @classmethod
    def from_json(cls, value: Any) -> Ledger:
        if not isinstance(value, Mapping) or value.get("version") != LEDGER_VERSION:
            raise RecordError(f"stored value {LEDGER_KEY!r} is not a credit ledger: {value!r}")
        try:
            reserved = {str(k): float(v) for k, v in dict(value["reserved"]).items()}
            return cls(int(value["clear_number"]), reserved, bool(value.get("stopped", False)))
        except (KeyError, TypeError, ValueError):
            raise RecordError(f"stored credit ledger is malformed: {value!r}") from None

    @classmethod
    def load(cls, store: StateStore, clear_number: int) -> Ledger:
        """This clear's ledger: the stored one, one carried over from a budget stop, or a new one."""
        stored = read_value(store, LEDGER_KEY)
        if stored is None:
            return cls(clear_number)
        ledger = cls.from_json(stored)
        if ledger.clear_number == clear_number:
            return ledger
        if ledger.stopped:
            return cls(clear_number, ledger.reserved, True, continued_from=ledger.clear_number)
        return cls(clear_number)

    def save(self, store: StateStore) -> None:
        write_value(store, LEDGER_KEY, self.to_json())


@dataclass
class Budget:
    """One try's admission control: reserve each create's estimate or refuse it, in input order."""

    max_credits: float
    tier: str | None
    ledger: Ledger
    #: Once an input did not fit, no later one is sent: the inputs left are the tail of the list.
    exhausted: bool = False

    @property
    def left(self) -> float:
        return round(self.max_credits - self.ledger.total, 6)

    def admit(self, cost: Estimate) -> str | None:
        """Reserve ``cost`` (``None`` returned) or say why the call is not sent."""
        if cost.credits is None:
            return f"not submitted under max_credits: {cost.unknown}"
        if self.exhausted or cost.credits > self.left + 1e-9:
            self.exhausted = True
            return (
                f"not submitted: max_credits={credits_text(self.max_credits)} would be exceeded "
                f"(estimated {credits_text(cost.credits)} credits, {credits_text(max(self.left, 0))} left)"
            )
        self.ledger.reserve(self.tier, cost.credits)
        return None


def counts_submitted(counts: Mapping[str, int]) -> int:
    """Inputs with a prediction this try: submitted now, resent, or kept and re-attached from earlier."""
    return sum(counts.get(k, 0) for k in ("kept", "attached", "submitted", "resubmitted"))


def budget_figures(max_credits: float, ledger: Ledger, left: int) -> dict[str, Any]:
    """The summary's ``budget``: the limit, the credits reserved (upper bound) by tier, inputs left."""
    return {
        "max_credits": max_credits,
        "reserved": ledger.total,
        "reserved_by_tier": dict(sorted(ledger.reserved.items())),
        "not_submitted": left,
    }


def raise_over_budget(summary: Mapping[str, Any], left: Mapping[str, str], log: Any) -> None:
    """Log the outcome and fail the task: it names the budget, what was done and what is left."""
    budget = summary["budget"]
    done = ", ".join(f"{k} {v:,}" for k, v in summary["counts"].items() if k != "not_submitted") or "none"
    first, reason = next(iter(left.items()))
    where = f" Every result is in {summary['output']['results']}." if summary.get("output") else ""
    message = (
        f"max_credits={credits_text(budget['max_credits'])} reached: {len(left):,} of "
        f"{summary['total']:,} inputs were not submitted (first: {first}: {reason}). Done: {done}; "
        f"credits used {credits_text(summary['credits_used'])} "
        f"({by_tier_text(summary.get('credits_by_tier', {}))}), at most "
        f"{credits_text(budget['reserved'])} reserved ({by_tier_text(budget['reserved_by_tier'])}).{where} "
        "Raise max_credits and clear the task: that Clear goes on with this night and submits only "
        "what is left."
    )
    log.info("batch stopped on its budget: %s", done)
    raise BudgetExceededError(message)
