"""Service tiers and what each costs: one table for the estimates, the budget and the docs.

The platform bills a prediction by what it processed (pages, images) times its tier's rate:
``flex`` at half the standard rate for work that can wait (it is served later, with higher
latency), ``priority`` at 1.8 times it. ``auto``, ``default`` and no tier at all leave it to the server,
whose default is ``standard`` (the SDK's ``GenerationConfig.service_tier`` documents both).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_vlm.client.errors import VlmInputError

#: Tier → credits per element (page, image) relative to standard. ``auto``/``default``: the server's.
TIER_RATES: dict[str, float] = {
    "auto": 1.0,
    "default": 1.0,
    "standard": 1.0,
    "flex": 0.5,
    "priority": 1.8,
}
SERVICE_TIERS = tuple(TIER_RATES)
#: How a request with no tier (or ``auto``/``default``) is billed: the server's default tier.
DEFAULT_TIER = "standard"


def check_tier(value: Any, *, owner: str = "service_tier") -> str | None:
    """``value`` if it is a tier the platform knows (or ``None``); else a ``VlmInputError`` listing them."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in TIER_RATES:
        raise VlmInputError(
            f"{owner}: {value!r} is not a service tier; use one of {', '.join(SERVICE_TIERS)}"
        )
    return value


def billed_tier(value: str | None) -> str:
    """The tier a request is billed at: ``None``, ``auto`` and ``default`` mean ``standard``."""
    return DEFAULT_TIER if value in (None, "auto", "default") else str(value)


def tier_rate(value: str | None) -> float:
    """Credits per element at ``value``; a tier this table does not know costs the highest rate."""
    return TIER_RATES.get(billed_tier(value), max(TIER_RATES.values()))
