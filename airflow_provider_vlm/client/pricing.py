"""The platform's rate card: one table for the estimates, the budget, the dev server and the docs.

VLM Run bills a prediction per element it processed (a page, an image, a 5-minute audio or video
segment) at its domain's rate for ``config.detail`` (``lo``, ``auto``, ``hi``; unset means
``auto``), plus the grounding add-on where the domain has one, times the service tier's factor
(``flex`` half, for work that can wait; ``priority`` 1.8 times), rounded up to a whole credit per
prediction: the SDK reads ``usage.credits_used`` as an integer. The table is the one published on
the platform's pricing page; the dev server bills with ``credits`` too, so a test can hold an
estimate against a real bill.

Not covered, because this package has no notion of them: custom fine-tuned models (6 credits per
page) and enterprise applications (8, whatever the detail).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_vlm.client.errors import VlmInputError

# --- service tiers --------------------------------------------------------------------------

#: Tier → billing factor relative to standard. ``auto``/``default``: the server's default, standard.
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
    """The billing factor of ``value`` (``VlmInputError`` for a tier the platform does not know)."""
    return TIER_RATES[billed_tier(check_tier(value))]


# --- the rate card --------------------------------------------------------------------------

#: ``config.detail`` values; unset means ``auto``.
DETAILS = ("lo", "auto", "hi")
DEFAULT_DETAIL = "auto"


@dataclass(frozen=True)
class Rate:
    """Credits per element of one row of the card, by detail, before the tier's factor."""

    lo: int
    auto: int
    hi: int
    #: Added per element with ``config.grounding`` (0: the row has no grounding add-on).
    grounding: int = 0
    #: Elements billed at least (audio and video: two 5-minute segments under 10 minutes).
    min_elements: int = 1

    def per_element(self, detail: str, grounding: bool) -> int:
        return int(getattr(self, detail)) + (self.grounding if grounding else 0)


#: The published card, by domain or domain family (the part before the dot). An exact domain wins.
RATE_CARD: dict[str, Rate] = {
    "document": Rate(1, 2, 4, grounding=2),
    "document.markdown": Rate(1, 4, 6),
    "image": Rate(1, 2, 4, grounding=2),
    "healthcare": Rate(1, 2, 4, grounding=2),
    "audio": Rate(1, 1, 2, min_elements=2),
    "video": Rate(10, 10, 20, min_elements=2),
}


def check_detail(value: Any, *, owner: str = "detail") -> str:
    """The detail a request is billed at (``None`` → ``auto``); else a ``VlmInputError`` listing them."""
    if value is None:
        return DEFAULT_DETAIL
    if not isinstance(value, str) or value not in DETAILS:
        raise VlmInputError(f"{owner}: {value!r} is not a detail level; use one of {', '.join(DETAILS)}")
    return value


def rate_for(domain: str, media: str | None = None) -> Rate:
    """The card's row for ``domain``: the domain itself, its family, else the media it is sent as.

    The card names the families above; a domain of another family (``accounting.*``,
    ``retail.*``, ...) is billed as the media of its route (a page of a document, an image).
    """
    family = domain.split(".", 1)[0]
    for key in (domain, family, media):
        if key is not None and key in RATE_CARD:
            return RATE_CARD[key]
    raise VlmInputError(
        f"no rate for domain {domain!r} sent as {media!r}: the card prices {', '.join(RATE_CARD)}"
    )


def credits(
    domain: str,
    elements: int,
    *,
    detail: str | None = None,
    grounding: bool = False,
    tier: str | None = None,
    media: str | None = None,
) -> int:
    """Whole credits one prediction of ``elements`` pages/images/segments of ``domain`` is billed.

    ``detail`` and ``tier`` as in ``config`` (unset: ``auto``, standard); ``media`` (the route)
    prices domains outside the card's families. Unknown values raise ``VlmInputError``. Nothing
    processed (a failed read) bills nothing.
    """
    rate = rate_for(domain, media)
    if elements <= 0:
        return 0
    per_element = rate.per_element(check_detail(detail), grounding)
    billed = max(int(elements), rate.min_elements)
    # The factors are decimal fractions: binary noise is rounded off before rounding up.
    return math.ceil(round(billed * per_element * tier_rate(tier), 6))


def config_credits(
    domain: str, elements: int, config: Mapping[str, Any] | None, *, media: str | None = None
) -> int:
    """``credits`` with ``detail``, ``grounding`` and ``service_tier`` read from a request's ``config``."""
    config = config or {}
    return credits(
        domain,
        elements,
        detail=config.get("detail"),
        grounding=bool(config.get("grounding")),
        tier=config.get("service_tier"),
        media=media,
    )
