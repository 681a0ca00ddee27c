"""Counters that let tests prove what reached the server ("no duplicate submission")."""

from __future__ import annotations

from collections import Counter
from typing import Any

FAULT_KINDS = ("error", "rate_limit", "drop", "drop_after_create", "rule")


class Stats:
    """Requests per route template, predictions created per Idempotency-Key and per tier, credits
    billed per tier, feedback created, faults injected."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests: Counter[str] = Counter()
        self.submissions: Counter[str] = Counter()
        self.predictions_created = 0
        self.faults_injected: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)
        self.predictions_by_tier: Counter[str] = Counter()
        self.credits_by_tier: Counter[str] = Counter()
        self.feedback_created = 0
        self.feedback_replayed = 0

    def request(self, route: str) -> None:
        self.requests[route] += 1

    def prediction_created(self, idempotency_key: str | None) -> None:
        """Count a created prediction; ``idempotency_key`` is None for non-generate routes."""
        self.predictions_created += 1
        if idempotency_key is not None:
            self.submissions[idempotency_key] += 1

    def billed(self, tier: str, credits: int) -> None:
        """A generate call's prediction, billed ``credits`` at ``tier``."""
        self.predictions_by_tier[tier] += 1
        self.credits_by_tier[tier] += credits

    def feedback(self, replayed: bool) -> None:
        if replayed:
            self.feedback_replayed += 1
        else:
            self.feedback_created += 1

    def fault(self, kind: str) -> None:
        self.faults_injected[kind] += 1

    def to_wire(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "submissions": dict(self.submissions),
            "predictions_created": self.predictions_created,
            "faults_injected": dict(self.faults_injected),
            "tiers": {
                tier: {"predictions": count, "credits": self.credits_by_tier[tier]}
                for tier, count in self.predictions_by_tier.items()
            },
            "credits_used": sum(self.credits_by_tier.values()),
            "feedback": {"created": self.feedback_created, "replayed": self.feedback_replayed},
        }
