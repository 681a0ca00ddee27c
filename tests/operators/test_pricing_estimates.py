"""The budget's estimate before submitting is never below what the server bills.

Over the whole rate card (every domain family, ``detail``, ``grounding`` and tier): as a property
of the table (the estimate of an input of n pages or images against the card's price for n), and
through real predictions on the dev server, whose ``usage.credits_used`` is the bill.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

from airflow_provider_vlm.client.pricing import RATE_CARD, credits
from airflow_provider_vlm.operators._budget import estimate
from airflow_provider_vlm.operators._inputs import LoadedInput
from tests.devserver.devserver_helpers import make_pdf, make_png, upload

#: One domain per row of the card, with the media it is sent as, plus one outside the card's families.
DOMAINS = {
    "document.invoice": "document",
    "document.markdown": "document",
    "image.caption": "image",
    "healthcare.pathology-report": "document",
    "audio.transcription": "audio",
    "video.transcription": "video",
    "accounting.form-w2": "document",
}
DETAILS = (None, "lo", "auto", "hi")
TIERS = (None, "standard", "flex", "priority", "auto")
GRID = list(itertools.product(DOMAINS, DETAILS, (False, True), TIERS))
PAGES = 3
IMAGES = 2


def _config(detail: str | None, grounding: bool, tier: str | None) -> dict[str, Any]:
    config: dict[str, Any] = {"grounding": grounding}
    if detail is not None:
        config["detail"] = detail
    if tier is not None:
        config["service_tier"] = tier
    return config


def _pdf(pages: int) -> bytes:
    return make_pdf([f"page {i + 1}" for i in range(pages)])


def _image_url() -> str:
    return "data:image/png;base64," + base64.b64encode(make_png()).decode()


def test_the_rows_of_the_card_are_the_grid() -> None:
    """A new row of the card must come with a domain here, or the grid below would miss it."""
    families = {d if d in RATE_CARD else d.split(".")[0] for d in DOMAINS}
    assert set(RATE_CARD) <= families


@pytest.mark.parametrize("elements", range(1, 13))
def test_every_estimate_covers_the_cards_price(elements: int) -> None:
    for domain, detail, grounding, tier in GRID:
        media = DOMAINS[domain]
        config = _config(detail, grounding, tier)
        if media == "image":
            loaded = LoadedInput(label="i", images=tuple(f"u{i}" for i in range(elements)))
        else:
            loaded = LoadedInput(label="d.pdf", content=_pdf(elements))
        cost = estimate(loaded, media, domain, config)
        price = credits(domain, elements, detail=detail, grounding=grounding, tier=tier, media=media)
        if media in ("audio", "video"):
            # Not bounded before submitting: such an input is never sent under a budget.
            assert cost.credits is None and "not known before submitting" in (cost.unknown or "")
            continue
        assert cost.credits is not None and cost.credits >= price, (domain, detail, grounding, tier)
        assert cost.elements == elements


@pytest.fixture(scope="module")
def quick_server(
    start_devserver: Callable[..., AbstractContextManager[Any]],
) -> Iterator[httpx.Client]:
    """A private dev server that finishes predictions at once (the grid makes hundreds)."""
    with start_devserver("--port", "0", "--processing-time", "0", "--api-key", "price-key") as server:
        with server.client() as api:
            yield api


@pytest.fixture(scope="module")
def inputs(quick_server: httpx.Client) -> dict[str, Any]:
    """The input each media is sent as: a stored PDF of ``PAGES`` pages, ``IMAGES`` images, a file."""
    return {
        "document": upload(quick_server, _pdf(PAGES), "doc.pdf")["id"],
        "audio": upload(quick_server, b"RIFF\x00\x00\x00\x00WAVEfmt ", "a.wav")["id"],
        "video": upload(quick_server, b"\x00\x00\x00\x18ftypmp42", "v.mp4")["id"],
        "image": [_image_url()] * IMAGES,
    }


@pytest.mark.parametrize("domain", DOMAINS)
def test_no_bill_from_the_dev_server_exceeds_the_estimate(
    quick_server: httpx.Client, inputs: dict[str, Any], domain: str
) -> None:
    media = DOMAINS[domain]
    loaded = (
        LoadedInput(label="i", images=tuple(inputs["image"]))
        if media == "image"
        else LoadedInput(label="doc.pdf", content=_pdf(PAGES))
    )
    for detail, grounding, tier in itertools.product(DETAILS, (False, True), TIERS):
        config = _config(detail, grounding, tier)
        source = {"images": inputs["image"]} if media == "image" else {"file_id": inputs[media]}
        body = {"domain": domain, "batch": False, "config": config, **source}
        reply = quick_server.post(f"/{media}/generate", json=body)
        assert reply.status_code == 200, reply.text
        done = reply.json()
        assert done["status"] == "completed", done
        bill = done["usage"]["credits_used"]
        elements = done["usage"]["elements_processed"]
        # The server bills by the card, for what it processed.
        assert bill == credits(domain, elements, detail=detail, grounding=grounding, tier=tier, media=media)
        cost = estimate(loaded, media, domain, config)
        if media in ("audio", "video"):
            assert cost.credits is None  # not sent under a budget at all
            continue
        assert elements == (IMAGES if media == "image" else PAGES)
        assert cost.credits is not None and bill <= cost.credits, (domain, detail, grounding, tier)


def test_the_dev_server_bills_only_the_pages_asked_for(
    quick_server: httpx.Client, inputs: dict[str, Any]
) -> None:
    """``page_indices`` caps the estimate, so it has to cap the bill too."""
    config = {"page_indices": [0, 2, 2], "service_tier": "priority"}
    body = {"domain": "document.invoice", "file_id": inputs["document"], "batch": False, "config": config}
    done = quick_server.post("/document/generate", json=body).json()
    assert done["usage"]["elements_processed"] == 2 and done["usage"]["credits_used"] == 8  # 2 x 2 x 1.8
    cost = estimate(LoadedInput(label="d.pdf", content=_pdf(PAGES)), "document", "document.invoice", config)
    assert cost.credits == 8


def test_an_unknown_detail_is_refused_and_never_priced(
    quick_server: httpx.Client, inputs: dict[str, Any]
) -> None:
    config = {"detail": "ultra"}
    body = {"domain": "document.invoice", "file_id": inputs["document"], "batch": False, "config": config}
    reply = quick_server.post("/document/generate", json=body)
    assert reply.status_code == 400 and "unknown detail 'ultra'" in reply.json()["error"]["message"]
    cost = estimate(LoadedInput(label="d.pdf", content=_pdf(1)), "document", "document.invoice", config)
    assert cost.credits is None and "'ultra' is not a detail level" in (cost.unknown or "")
