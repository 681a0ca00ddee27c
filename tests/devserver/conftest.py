"""Fixtures for the dev server's own tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest


@pytest.fixture
def api(dev: Any) -> Iterator[httpx.Client]:
    """A keyed client for the session's dev server (reset for this test)."""
    with dev.client() as client:
        yield client
