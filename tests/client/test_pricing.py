"""The rate card (``client.pricing``): the platform's published figures, and how a bill is made."""

from __future__ import annotations

import pytest

from airflow_provider_vlm.client import VlmInputError
from airflow_provider_vlm.client.pricing import RATE_CARD, TIER_RATES, credits, rate_for, tier_rate

#: The platform's pricing page: credits per page/image/segment at lo, auto, hi; the grounding add-on.
PUBLISHED = {
    "document.invoice": (1, 2, 4, 2),
    "document.markdown": (1, 4, 6, 0),
    "image.caption": (1, 2, 4, 2),
    "healthcare.pathology-report": (1, 2, 4, 2),
    "audio.transcription": (1, 1, 2, 0),
    "video.transcription": (10, 10, 20, 0),
}


@pytest.mark.parametrize(("domain", "row"), PUBLISHED.items())
def test_the_card_is_the_published_one(domain: str, row: tuple[int, int, int, int]) -> None:
    lo, auto, hi, grounding = row
    # Audio and video bill two segments at least: price ten of them to read the rate.
    assert [credits(domain, 10, detail=d) for d in ("lo", "auto", "hi")] == [10 * lo, 10 * auto, 10 * hi]
    assert credits(domain, 10, grounding=True) == 10 * (auto + grounding)
    assert credits(domain, 10) == credits(domain, 10, detail="auto", tier="standard")


def test_tiers_scale_the_bill_and_round_up_per_prediction() -> None:
    assert TIER_RATES["flex"] == 0.5 and TIER_RATES["priority"] == 1.8
    assert tier_rate(None) == tier_rate("auto") == tier_rate("default") == tier_rate("standard") == 1.0
    assert credits("document.invoice", 5, tier="flex") == 5
    assert credits("document.invoice", 5, tier="priority") == 18
    assert credits("document.invoice", 1, tier="priority") == 4  # 3.6, billed whole
    assert credits("document.invoice", 3, detail="lo", tier="flex") == 2  # 1.5
    assert credits("document.markdown", 5, detail="lo", tier="priority") == 9
    assert credits("document.invoice", 2, grounding=True, tier="flex") == 4


def test_audio_and_video_bill_two_segments_at_least() -> None:
    assert credits("audio.transcription", 1) == 2
    assert credits("audio.transcription", 0) == 0  # nothing processed (a failed read): no bill
    assert credits("video.transcription", 1) == 20
    assert credits("video.transcription", 3, detail="hi", tier="flex") == 30


def test_a_domain_outside_the_card_is_priced_as_its_media() -> None:
    assert rate_for("accounting.form-w2", "document") is RATE_CARD["document"]
    assert rate_for("retail.product-catalog", "image") is RATE_CARD["image"]
    assert rate_for("document.invoice", "image") is RATE_CARD["document"]  # the domain's family wins
    assert credits("media.tv-news", 1, media="video") == 20
    with pytest.raises(VlmInputError, match=r"no rate for domain 'finance\.balance-sheet'"):
        credits("finance.balance-sheet", 1)


def test_unknown_detail_or_tier_is_refused_naming_the_choices() -> None:
    with pytest.raises(VlmInputError, match="'ultra' is not a detail level; use one of lo, auto, hi"):
        credits("document.invoice", 1, detail="ultra")
    with pytest.raises(VlmInputError, match="'cheap' is not a service tier"):
        credits("document.invoice", 1, tier="cheap")
