"""Fault injection: latency, random 5xx / 429 / dropped connections, scripted rules, canned responses.

Random draws come from one ``random.Random(seed)``, reseeded on reset, so a test run that sends
the same requests in the same order meets the same faults.
"""

from __future__ import annotations

import copy
import email.utils
import fnmatch
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .clock import now


class Rule(BaseModel):
    """Answer ``status`` to matching requests, for ``count`` requests or ``seconds`` (or both: first end)."""

    model_config = ConfigDict(extra="forbid")

    method: str | None = None
    path: str = "*"
    status: int = Field(ge=100, le=599)
    count: int | None = Field(default=None, ge=1)
    seconds: float | None = Field(default=None, gt=0)
    retry_after: float | None = Field(default=None, ge=0)


class FaultUpdate(BaseModel):
    """Body of ``POST /_dev/faults``: every field optional, merged into the current settings."""

    model_config = ConfigDict(extra="forbid")

    latency: float | None = Field(default=None, ge=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)
    error_status: int | None = Field(default=None, ge=400, le=599)
    rate_limit_rate: float | None = Field(default=None, ge=0, le=1)
    retry_after: float | None = Field(default=None, ge=0)
    drop_rate: float | None = Field(default=None, ge=0, le=1)
    methods: list[str] | None = None
    drop_after_create: int | None = Field(default=None, ge=0)
    processing_time: float | None = Field(default=None, ge=0)
    rules: list[Rule] | None = None
    responses: dict[str, dict[str, Any]] | None = None
    #: New predictions report ``paused`` for this many seconds before they go on (0: off).
    pause: float | None = Field(default=None, ge=0)
    #: Send ``Retry-After`` as an HTTP date (``Wed, 02 Dec 2026 06:00:01 GMT``) instead of seconds.
    retry_after_http_date: bool | None = None


@dataclass
class _ActiveRule:
    rule: Rule
    remaining: int | None
    expires_at: float | None

    def live(self, at: float) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.expires_at is None or at < self.expires_at

    def matches(self, method: str, path: str) -> bool:
        if self.rule.method and self.rule.method.upper() != method:
            return False
        return fnmatch.fnmatchcase(path, self.rule.path)

    def to_wire(self) -> dict[str, Any]:
        return {**self.rule.model_dump(), "remaining": self.remaining, "expires_at": self.expires_at}


@dataclass
class FaultSettings:
    """The settings in force; ``processing_time`` lives here because tests change it at run time."""

    processing_time: float = 2.0
    latency: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500
    rate_limit_rate: float = 0.0
    retry_after: float = 1.0
    drop_rate: float = 0.0
    methods: list[str] | None = None
    drop_after_create: int = 0
    rules: list[_ActiveRule] = field(default_factory=list)
    # domain, or one input (URL, file id, image), -> the response a new prediction completes with,
    # instead of the engine's; an input's entry wins over its domain's
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    pause: float = 0.0
    retry_after_http_date: bool = False


@dataclass(frozen=True)
class Decision:
    """What to do instead of handling a request."""

    kind: Literal["drop", "error", "rate_limit", "rule"]
    status: int = 0
    retry_after: float | None = None


class Faults:
    """The current settings plus the seeded random source that draws the random faults."""

    def __init__(self, defaults: FaultUpdate, seed: int | None, processing_time: float) -> None:
        self._defaults = defaults
        self._seed = seed
        self._processing_time = processing_time
        self.reset()

    def reset(self) -> None:
        """Back to the settings the server started with, and reseed."""
        self.settings = FaultSettings(processing_time=self._processing_time)
        self._rng = random.Random(self._seed)
        self.update(self._defaults)

    def update(self, change: FaultUpdate) -> None:
        at = now()
        for name, value in change.model_dump(exclude_unset=True, exclude={"rules"}).items():
            if name == "methods" and value is not None:
                value = [m.upper() for m in value]
            if name == "responses":
                value = dict(value or {})
            if value is None and name in ("pause", "retry_after_http_date"):
                value = FaultSettings.pause if name == "pause" else FaultSettings.retry_after_http_date
            setattr(self.settings, name, value)
        if change.rules is not None:
            self.settings.rules = [
                _ActiveRule(rule, rule.count, at + rule.seconds if rule.seconds else None)
                for rule in change.rules
            ]

    @property
    def processing_time(self) -> float:
        return self.settings.processing_time

    def decide(self, method: str, path: str) -> Decision | None:
        """A rule first, then one random draw shared by drop, error and rate limit."""
        s = self.settings
        if s.rules:
            at = now()
            for active in s.rules:
                if active.live(at) and active.matches(method, path):
                    if active.remaining is not None:
                        active.remaining -= 1
                    return Decision("rule", active.rule.status, active.rule.retry_after)
        if not (s.drop_rate or s.error_rate or s.rate_limit_rate):
            return None
        if s.methods is not None and method not in s.methods:
            return None
        draw = self._rng.random()
        if draw < s.drop_rate:
            return Decision("drop")
        draw -= s.drop_rate
        if draw < s.error_rate:
            return Decision("error", s.error_status)
        draw -= s.error_rate
        if draw < s.rate_limit_rate:
            return Decision("rate_limit", 429, s.retry_after)
        return None

    def response_for(self, domain: str, inputs: Sequence[str] = ()) -> dict[str, Any] | None:
        """The canned response set for one of ``inputs`` or else for ``domain`` (a copy), or None.

        An entry per input lets one test give each prediction of a domain its own response.
        """
        responses = self.settings.responses
        key = next((i for i in inputs if i in responses), domain)
        canned = responses.get(key)
        return copy.deepcopy(canned) if canned is not None else None

    def retry_after_header(self, seconds: float) -> str:
        """``Retry-After``: delay-seconds, or an HTTP date when ``retry_after_http_date`` is on.

        An HTTP date has whole seconds: it is rounded up, so a client never comes back early.
        """
        if self.settings.retry_after_http_date:
            return email.utils.formatdate(math.ceil(now() + seconds), usegmt=True)
        return str(int(seconds)) if float(seconds).is_integer() else str(seconds)

    def take_drop_after_create(self) -> bool:
        """Consume one "lose the answer of a created prediction" token, if any is left."""
        if self.settings.drop_after_create > 0:
            self.settings.drop_after_create -= 1
            return True
        return False

    def to_wire(self) -> dict[str, Any]:
        s = self.settings
        return {
            "processing_time": s.processing_time,
            "latency": s.latency,
            "error_rate": s.error_rate,
            "error_status": s.error_status,
            "rate_limit_rate": s.rate_limit_rate,
            "retry_after": s.retry_after,
            "drop_rate": s.drop_rate,
            "methods": s.methods,
            "drop_after_create": s.drop_after_create,
            "rules": [r.to_wire() for r in s.rules],
            "responses": s.responses,
            "pause": s.pause,
            "retry_after_http_date": s.retry_after_http_date,
            "seed": self._seed,
        }
