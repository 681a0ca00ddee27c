"""``config.service_tier``: what a prediction costs and how long it takes, per delivery tier.

The platform bills ``flex`` at half the standard credits (work that can wait, routed to spare
capacity) and ``priority`` at 1.8 times; ``auto`` and ``default`` mean ``standard``. The SDK reads
``usage.credits_used`` as an integer, so the dev server bills whole credits: two per element at
the standard tier (the platform's rate for ``detail="auto"`` pages and images), which makes a
flex bill an exact half; a priority bill is rounded up to the next whole credit.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import ApiError

#: The one table of tiers: billing factor and processing-time factor.
TIERS: dict[str, tuple[float, float]] = {
    "standard": (1.0, 1.0),
    "flex": (0.5, 2.0),
    "priority": (1.8, 0.5),
}
#: Names the SDK accepts that mean another tier.
ALIASES = {"auto": "standard", "default": "standard"}
#: Credits per page, image, audio or video at the standard tier.
STANDARD_CREDITS_PER_ELEMENT = 2


def tier_of(config: dict[str, Any] | None) -> str:
    """The tier a request's config asks for (``standard`` when unset); 400 for an unknown one."""
    requested = (config or {}).get("service_tier")
    if requested is None:
        return "standard"
    if isinstance(requested, str):
        name = ALIASES.get(requested, requested)
        if name in TIERS:
            return name
    known = ", ".join(repr(t) for t in (*ALIASES, *TIERS))
    raise ApiError(400, f"unknown service_tier {requested!r}: expected one of {known}")


def credits(elements: int, tier: str) -> int:
    """Whole credits for ``elements`` billed at ``tier``."""
    return math.ceil(elements * STANDARD_CREDITS_PER_ELEMENT * TIERS[tier][0] - 1e-9)


def bill(usage: dict[str, Any], tier: str) -> dict[str, Any]:
    """``usage`` with ``credits_used`` for its elements at ``tier`` (a failed read bills nothing)."""
    elements = int(usage.get("elements_processed") or 0)
    return {**usage, "credits_used": credits(elements, tier)}


def processing_time(base: float, tier: str) -> float:
    """Seconds from enqueued to done: flex waits for spare capacity, priority jumps the queue."""
    return base * TIERS[tier][1]
