"""Every retry rule, with faults injected by the real dev server."""

from __future__ import annotations

import uuid

import httpx
import pytest

from airflow_provider_vlm.client import (
    APIError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    OutcomeUnknownError,
    PredictionStatus,
    RateLimitError,
    ServerError,
    TransportError,
    VlmClient,
    attempts_at_most,
)
from airflow_provider_vlm.client._retry import RetryPolicy, parse_retry_after
from tests.client.conftest import route_count

URL = "https://example.com/doc.pdf"


def _fast(dev, **kwargs) -> VlmClient:
    """A client whose backoff is short so the tests stay quick (Retry-After still wins)."""
    policy = RetryPolicy(max_retries=kwargs.pop("max_retries", 3), backoff_base=0.01, backoff_cap=0.05)
    return VlmClient(dev.api_key, dev.base_url, retry_policy=policy, **kwargs)


def _submit(client: VlmClient, key: str | None = None):
    return client.document.generate(domain="document.markdown", url=URL, batch=True, idempotency_key=key)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_reads_retry_5xx_and_429(dev, status: int) -> None:
    with _fast(dev) as client:
        prediction = _submit(client)
        dev.faults(
            rules=[
                {"method": "GET", "path": "/predictions/*", "status": status, "count": 2, "retry_after": 0}
            ]
        )
        assert client.predictions.get(prediction.id).id == prediction.id
    assert route_count(dev.stats(), "GET /predictions/{id}") == 3


def test_reads_give_up_after_max_retries(dev) -> None:
    with _fast(dev, max_retries=2) as client:
        prediction = _submit(client)
        dev.faults(rules=[{"method": "GET", "path": "/predictions/*", "status": 502}])
        with pytest.raises(ServerError) as info:
            client.predictions.get(prediction.id)
    assert info.value.status_code == 502
    assert route_count(dev.stats(), "GET /predictions/{id}") == 3
    assert info.value.attempts == 3
    assert "GET /predictions/{id}" in str(info.value)
    assert "gave up after 3 attempts (max_retries=2)" in str(info.value)


def test_an_upload_that_always_answers_503_is_attempted_max_retries_plus_one_times(dev) -> None:
    dev.faults(rules=[{"method": "POST", "path": "/files", "status": 503}])
    with _fast(dev, max_retries=2) as client, pytest.raises(ServerError) as info:
        client.files.upload(b"%PDF-1.4 budget", filename="budget.pdf", force=True)
    assert route_count(dev.stats(), "POST /files") == 3
    assert info.value.transient
    assert "[POST /files]; gave up after 3 attempts (max_retries=2)" in str(info.value)


def test_a_refused_generate_is_attempted_max_retries_plus_one_times(dev) -> None:
    """429 / 503 with ``Retry-After`` mean "not done": resent, within the same budget."""
    dev.faults(rules=[{"method": "POST", "path": "/document/generate", "status": 503, "retry_after": 0}])
    with _fast(dev, max_retries=2) as client, pytest.raises(RateLimitError) as info:
        _submit(client)
    assert route_count(dev.stats(), "POST /document/generate") == 3
    assert "gave up after 3 attempts (max_retries=2)" in str(info.value)


def test_max_retries_zero_means_one_attempt(dev) -> None:
    dev.faults(rules=[{"method": "GET", "path": "/domains", "status": 500}])
    with _fast(dev, max_retries=0) as client, pytest.raises(ServerError) as info:
        client.list_domains()
    assert route_count(dev.stats(), "GET /domains") == 1
    assert "gave up after 1 attempt (max_retries=0)" in str(info.value)


def test_attempts_at_most_caps_a_call_below_the_budget(dev) -> None:
    """What the batch's settle rounds use: a caller that spent part of a call's budget."""
    dev.faults(rules=[{"method": "GET", "path": "/domains", "status": 502}])
    with _fast(dev, max_retries=5) as client:
        with attempts_at_most(2), pytest.raises(ServerError):
            client.list_domains()
        assert route_count(dev.stats(), "GET /domains") == 2
        dev.reset()
        dev.faults(rules=[{"method": "GET", "path": "/domains", "status": 502}])
        with pytest.raises(ServerError):  # outside, the whole budget again
            client.list_domains()
    assert route_count(dev.stats(), "GET /domains") == 6


def test_501_is_not_retried_and_is_not_transient(dev) -> None:
    """Not Implemented gives the same answer again: one attempt, and a wait would end on it."""
    with _fast(dev, max_retries=3) as client:
        prediction = _submit(client)
        dev.faults(rules=[{"method": "GET", "path": "/predictions/*", "status": 501}])
        with pytest.raises(APIError) as info:
            client.predictions.get(prediction.id)
    assert route_count(dev.stats(), "GET /predictions/{id}") == 1
    assert info.value.status_code == 501
    assert not info.value.transient and not info.value.resent


def test_retry_after_is_honoured(dev) -> None:
    slept: list[float] = []
    policy = RetryPolicy(max_retries=3, backoff_base=0.01)
    with VlmClient(dev.api_key, dev.base_url, retry_policy=policy) as client:
        prediction = _submit(client)
        dev.faults(
            rules=[{"method": "GET", "path": "/predictions/*", "status": 429, "count": 1, "retry_after": 1}]
        )
        original = policy.delay

        def spy(error, attempts):
            delay = original(error, attempts)
            slept.append(delay)
            return delay

        policy.delay = spy  # type: ignore[method-assign]
        client.predictions.get(prediction.id)
    assert slept[0] == 1.0


def test_retry_after_parses_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_4xx_is_never_retried(dev, status: int) -> None:
    with _fast(dev) as client:
        prediction = _submit(client)
        dev.faults(rules=[{"method": "GET", "path": "/predictions/*", "status": status, "count": 5}])
        expected = {
            400: InvalidRequestError,
            401: AuthenticationError,
            403: AuthenticationError,
            404: NotFoundError,
            409: ConflictError,
            422: InvalidRequestError,
        }[status]
        with pytest.raises(expected) as info:
            client.predictions.get(prediction.id)
    assert info.value.status_code == status
    assert route_count(dev.stats(), "GET /predictions/{id}") == 1


@pytest.mark.parametrize("status", [500, 502, 504])
def test_generate_is_not_retried_after_an_ambiguous_5xx(dev, status: int) -> None:
    dev.faults(rules=[{"method": "POST", "path": "/document/generate", "status": status, "count": 1}])
    with _fast(dev) as client, pytest.raises(OutcomeUnknownError) as info:
        _submit(client, key=f"amb-{uuid.uuid4()}")
    assert isinstance(info.value.cause, ServerError)
    assert route_count(dev.stats(), "POST /document/generate") == 1


def test_generate_retries_when_refused(dev) -> None:
    dev.faults(
        rules=[
            {"method": "POST", "path": "/document/generate", "status": 429, "count": 1, "retry_after": 0},
        ]
    )
    with _fast(dev) as client:
        assert _submit(client).id
    dev.reset()
    dev.faults(
        rules=[{"method": "POST", "path": "/document/generate", "status": 503, "count": 1, "retry_after": 0}]
    )
    with _fast(dev) as client:
        assert _submit(client).id
    assert route_count(dev.stats(), "POST /document/generate") == 2


def test_generate_rate_limit_exhausted_is_a_rate_limit_error(dev) -> None:
    dev.faults(
        rules=[{"method": "POST", "path": "/document/generate", "status": 429, "count": 10, "retry_after": 0}]
    )
    with _fast(dev, max_retries=1) as client, pytest.raises(RateLimitError) as info:
        _submit(client)
    assert info.value.retry_after == 0


def test_generate_answer_lost_is_outcome_unknown_and_the_key_recovers_it(dev) -> None:
    dev.faults(drop_after_create=1)
    key = f"lost-{uuid.uuid4()}"
    with _fast(dev) as client:
        with pytest.raises(OutcomeUnknownError) as info:
            _submit(client, key=key)
        assert isinstance(info.value.cause, TransportError)
        assert route_count(dev.stats(), "POST /document/generate") == 1
        recovered = _submit(client, key=key)
    stats = dev.stats()
    assert stats["submissions"][key] == 1
    assert recovered.status in set(PredictionStatus)


def test_generate_read_timeout_is_outcome_unknown(dev) -> None:
    dev.faults(latency=1.0, methods=["POST"])
    with _fast(dev, timeout=0.3) as client, pytest.raises(OutcomeUnknownError):
        _submit(client)
    assert route_count(dev.stats(), "POST /document/generate") == 1


@pytest.mark.parametrize("fault", [{"latency": 1.0}, {"drop_rate": 1.0}], ids=["read-timeout", "dropped"])
def test_read_timeout_and_dropped_connections_are_retried(dev, fault: dict) -> None:
    with _fast(dev, timeout=0.3, max_retries=2) as client:
        prediction = _submit(client)
        dev.faults(methods=["GET"], **fault)
        with pytest.raises(TransportError) as info:
            client.predictions.get(prediction.id)
    assert route_count(dev.stats(), "GET /predictions/{id}") == 3
    assert info.value.attempts == 3
    assert "GET /predictions/{id}" in str(info.value)


def test_connect_errors_are_retried_even_for_generate() -> None:
    attempts: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.path)
        raise httpx.ConnectError("connection refused", request=request)

    policy = RetryPolicy(max_retries=2, backoff_base=0.001)
    client = VlmClient(
        "k", "http://127.0.0.1:9/v1", transport=httpx.MockTransport(refuse), retry_policy=policy
    )
    with client, pytest.raises(TransportError) as info:
        client.document.generate(domain="document.markdown", url=URL, batch=True)
    assert not isinstance(info.value, OutcomeUnknownError)
    assert len(attempts) == 3


def test_random_faults_on_reads_are_absorbed(dev) -> None:
    with _fast(dev, max_retries=8) as client:
        prediction = _submit(client)
        dev.faults(error_rate=0.2, rate_limit_rate=0.1, retry_after=0, methods=["GET"])
        for _ in range(30):
            assert client.predictions.get(prediction.id).id == prediction.id
    injected = dev.stats()["faults_injected"]
    assert injected["error"] + injected["rate_limit"] > 0
