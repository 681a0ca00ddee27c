from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_vlm.client import VlmClient
from tests.conftest import INVOICES


@pytest.fixture
def client(dev) -> Iterator[VlmClient]:
    with VlmClient(dev.api_key, dev.base_url, timeout=10, max_retries=3) as c:
        yield c


@pytest.fixture
def invoice_pdf() -> Path:
    return INVOICES / "zugferd" / "correct" / "XML-Rechnung__FX__EN16931_Einfach.pdf"


def route_count(stats: dict, route: str) -> int:
    return int(stats["requests"].get(route, 0))
