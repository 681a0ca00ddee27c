"""The ``processing_time`` marker: the ``dev`` fixture sets the session server's processing time
for one test, and the next test gets the server's own again."""

from __future__ import annotations

from typing import Any

import pytest


def _processing_time(dev: Any) -> float:
    value: float = dev.faults()["processing_time"]
    return value


@pytest.mark.processing_time(0.1)
def test_the_marker_sets_the_processing_time(dev: Any) -> None:
    assert _processing_time(dev) == 0.1


def test_without_the_marker_the_server_keeps_its_own(dev: Any) -> None:
    assert _processing_time(dev) == 1.0


@pytest.mark.processing_time(0)
def test_a_prediction_ends_as_soon_as_the_marker_says(dev: Any) -> None:
    """At 0 s the first read of a new prediction already sees it completed."""
    with dev.client() as api:
        submitted = api.post(
            "/document/generate",
            json={"domain": "document.markdown", "url": "https://x.test/1", "batch": True},
        ).json()
        assert api.get(f"/predictions/{submitted['id']}").json()["status"] == "completed"
