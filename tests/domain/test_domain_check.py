"""``check_domain``: a typo fails the task before anything is uploaded or billed."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import _harness
import pytest

from airflow_provider_vlm.client import UnknownDomainError, VlmClient, VlmInputError
from airflow_provider_vlm.client.errors import TaskRetry
from airflow_provider_vlm.operators._domain import check_domain, suggest
from tests.invoices import InvoiceSet


@pytest.fixture
def client(dev: Any) -> Any:
    with VlmClient(dev.api_key, dev.base_url, max_retries=0) as c:
        yield c


def test_unknown_domain_error_is_an_input_error_the_default_policy_does_not_retry() -> None:
    assert issubclass(UnknownDomainError, VlmInputError)
    assert UnknownDomainError.task_retry is TaskRetry.FAIL
    error = UnknownDomainError("document.invoicee", ["document.invoice"])
    assert str(error) == "unknown domain 'document.invoicee'; did you mean 'document.invoice'?"
    assert str(UnknownDomainError("acme.thing")) == "unknown domain 'acme.thing'"


def test_suggestions_are_the_near_best_matches() -> None:
    known = {"document.invoice", "document.receipt", "document.resume", "image.caption"}
    assert suggest("document.invoicee", known) == ["document.invoice"]
    assert suggest("document.reciept", known) == ["document.receipt"]
    assert suggest("acme.thing", known) == []


def test_known_domain_passes_and_the_list_is_read_once_per_client(dev: Any, client: Any) -> None:
    check_domain(client, "document.invoice")
    check_domain(client, "document.receipt")
    with pytest.raises(UnknownDomainError) as caught:
        check_domain(client, "document.invoicee")
    assert str(caught.value) == "unknown domain 'document.invoicee'; did you mean 'document.invoice'?"
    assert caught.value.suggestions == ["document.invoice"]
    assert dev.stats()["requests"]["GET /domains"] == 1


def test_a_server_without_the_route_is_not_checked(
    dev: Any, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    dev.faults(rules=[{"method": "GET", "path": "/domains", "status": 404}])
    with caplog.at_level(logging.DEBUG, logger="airflow_provider_vlm.operators._domain"):
        check_domain(client, "document.invoicee")  # the generate call decides instead
    assert any("no domain list" in r.message and r.levelno == logging.DEBUG for r in caplog.records)


def test_a_passing_failure_of_the_list_does_not_fail_the_task(
    dev: Any, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    dev.faults(rules=[{"method": "GET", "path": "/domains", "status": 503, "count": 1}])
    check_domain(client, "document.invoicee")
    assert any("could not read" in r.message for r in caplog.records)
    with pytest.raises(UnknownDomainError):  # not cached: the next check reads the list
        check_domain(client, "document.invoicee")


@pytest.mark.timeout(300)
def test_typo_domain_fails_the_first_try_with_no_upload_and_no_prediction(
    dev: Any, airflow_home: Path, invoice_set: InvoiceSet
) -> None:
    dev.reset(state=True)
    env = {"VLM_TEST_INVOICE": str(invoice_set.primary.path)}
    result = _harness.run_dag(airflow_home, dev.base_url, dev.api_key, "vlm_domain_typo", env=env)
    ti = result.task("extract")
    assert ti["state"] == "failed", result.tail()
    assert ti["try_number"] == 1, result.tail()  # retries=2, but the default policy fails it at once
    assert "UnknownDomainError" in result.output
    assert "unknown domain 'document.invoicee'; did you mean 'document.invoice'?" in result.output
    stats = dev.stats()
    assert stats["predictions_created"] == 0
    requests = stats["requests"]
    assert requests.get("POST /files", 0) == 0 and requests.get("GET /files/hash/{md5}", 0) == 0
    assert not any(route.endswith("/generate") for route in requests), requests
    assert requests["GET /domains"] == 1
