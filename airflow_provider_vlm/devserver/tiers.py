"""``config.service_tier`` and ``config.detail``: what a prediction is billed and how long it takes.

Billing is the platform's rate card, the client's ``pricing.credits`` (one table for the
provider's estimates and this server's bills, so tests hold one against the other): the domain's
credits per element at the request's ``detail``, the grounding add-on, times the tier's factor,
rounded up to a whole credit (the SDK reads ``usage.credits_used`` as an integer). What stays
here is the part that is not billing: how much longer ``flex`` takes and how much less ``priority``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_vlm.client import VlmInputError
from airflow_provider_vlm.client.pricing import (
    SERVICE_TIERS,
    billed_tier,
    check_detail,
    check_tier,
    config_credits,
)

from .errors import ApiError

#: Tier → processing-time factor (the tier names and aliases are the client's ``pricing``).
TIMES: dict[str, float] = {"standard": 1.0, "flex": 2.0, "priority": 0.5}


def tier_of(config: dict[str, Any] | None) -> str:
    """The tier a request's config asks for (``standard`` when unset); 400 for an unknown one.

    ``config.detail`` is checked here too, before anything is created: it decides the price.
    """
    config = config or {}
    try:
        check_detail(config.get("detail"))
    except VlmInputError:
        raise ApiError(
            400, f"unknown detail {config.get('detail')!r}: expected one of 'auto', 'lo', 'hi'"
        ) from None
    requested = config.get("service_tier")
    try:
        return billed_tier(check_tier(requested))
    except VlmInputError:
        known = ", ".join(repr(t) for t in SERVICE_TIERS)
        raise ApiError(400, f"unknown service_tier {requested!r}: expected one of {known}") from None


def processed(usage: dict[str, Any], config: dict[str, Any] | None) -> dict[str, Any]:
    """``usage`` with only the pages ``config.page_indices`` asks for (the rest are not read)."""
    indices = (config or {}).get("page_indices")
    elements = int(usage.get("elements_processed") or 0)
    if usage.get("element_type") == "page" and isinstance(indices, list) and indices:
        in_range = {i for i in indices if isinstance(i, int) and 0 <= i < elements}
        return {**usage, "elements_processed": len(in_range)}
    return usage


def bill(usage: dict[str, Any], domain: str, media: str, config: dict[str, Any] | None) -> dict[str, Any]:
    """``usage`` with ``credits_used`` by the rate card (a failed read, no elements, bills nothing)."""
    usage = processed(usage, config)
    elements = int(usage.get("elements_processed") or 0)
    return {**usage, "credits_used": config_credits(domain, elements, config, media=media)}


def processing_time(base: float, tier: str) -> float:
    """Seconds from enqueued to done: flex waits for spare capacity, priority jumps the queue."""
    return base * TIMES[tier]
