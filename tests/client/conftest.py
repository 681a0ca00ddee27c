from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_vlm.client import VlmClient
from tests.invoices import InvoiceSet


@pytest.fixture
def client(dev) -> Iterator[VlmClient]:
    with VlmClient(dev.api_key, dev.base_url, timeout=10, max_retries=3) as c:
        yield c


@pytest.fixture
def invoice_pdf(invoice_set: InvoiceSet) -> Path:
    """The generated Factur-X invoice: number 471102, total 529.87."""
    return invoice_set.primary.path


def route_count(stats: dict, route: str) -> int:
    return int(stats["requests"].get(route, 0))
