"""The one wait loop (``client/_polling.py``): policy, tolerance, deadline, sweep, both drivers.

The unit tests run the loop's generator with a fake driver and a fake clock (a ``Sleep`` step
moves the clock), so hour-long outages take no time. The last tests run it with the real sync
and async drivers against the dev server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_vlm.client import (
    AsyncVlmClient,
    NotFoundError,
    PredictionTimeoutError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    TransportError,
    VlmClient,
    VlmError,
)
from airflow_provider_vlm.client._core import Call, Clock, Now, Operation, Parallel, Sleep
from airflow_provider_vlm.client._polling import (
    SWEEP_MIN_IDS,
    PollPolicy,
    WaitOutcome,
    WaitStatus,
    wait_for,
)
from airflow_provider_vlm.client._retry import RetryPolicy
from airflow_provider_vlm.client.errors import VlmInputError

Answer = Callable[[Call, float], Any]  # (call, now) -> reply data, or raises a VlmError


class FakeDriver:
    """Runs an operation with scripted replies and a clock that only ``Sleep`` moves."""

    def __init__(self, answer: Answer, start: float = 1_000_000.0) -> None:
        self.answer = answer
        self.now = start
        self.sleeps: list[float] = []
        self.calls: list[Call] = []

    def run(self, operation: Operation[Any]) -> Any:
        result: Any = None
        try:
            while True:
                step = operation.send(result)
                if isinstance(step, Call):
                    self.calls.append(step)
                    result = self.answer(step, self.now)
                elif isinstance(step, Sleep):
                    self.sleeps.append(step.seconds)
                    self.now += step.seconds
                    result = None
                elif isinstance(step, Now | Clock):
                    result = self.now
                elif isinstance(step, Parallel):
                    result = [self._caught(op) for op in step.operations]
                else:
                    raise TypeError(step)
        except StopIteration as done:
            return done.value

    def _caught(self, operation: Operation[Any]) -> Any:
        try:
            return self.run(operation)
        except VlmError as exc:
            return exc


def pred(pid: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"id": pid, "status": status, **extra}


def run(driver: FakeDriver, ids: list[str], *, deadline: float | None, **policy: Any) -> WaitOutcome:
    outcome: WaitOutcome = driver.run(
        wait_for(ids, deadline=deadline, policy=PollPolicy(**policy), logger=logging.getLogger("t"))
    )
    return outcome


def test_policy_backs_off_by_1_5_up_to_the_cap_and_resets_on_change() -> None:
    def answer(call: Call, now: float) -> Any:
        elapsed = now - 1_000_000.0
        return pred("p", "running" if elapsed >= 30 else "pending")

    driver = FakeDriver(answer)
    outcome = run(driver, ["p"], deadline=driver.now + 60, first=2, factor=1.5, cap=10)
    assert outcome.status is WaitStatus.TIMEOUT
    # the first read is a change (submitted -> pending); running is seen at t=36.25: reset
    assert driver.sleeps[:7] == [2, 3, 4.5, 6.75, 10, 10, 2]
    assert outcome.message == "still running at the deadline; it keeps running on the server"


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(VlmInputError):
        PollPolicy(first=0)
    with pytest.raises(VlmInputError):
        PollPolicy(first=5, cap=1)
    with pytest.raises(VlmInputError):
        PollPolicy(factor=0.5)


def test_transient_errors_never_end_a_wait_before_its_deadline() -> None:
    """An outage of 2 hours under a 3-hour deadline: thousands of failed polls, then success."""
    start = 1_000_000.0

    def answer(call: Call, now: float) -> Any:
        if now - start < 7200:
            raise [ServerError, TransportError][int(now) % 2]("down", request=call.label)
        return pred("p", "completed")

    driver = FakeDriver(answer, start)
    outcome = run(driver, ["p"], deadline=start + 3 * 3600, first=1, cap=1)
    assert outcome.status is WaitStatus.SUCCESS, outcome.message
    assert len(driver.calls) > 7000


def test_an_outage_past_the_deadline_ends_with_timeout_naming_the_last_error() -> None:
    def answer(call: Call, now: float) -> Any:
        raise ServerError("server error: unavailable", status_code=503, request=call.label)

    driver = FakeDriver(answer)
    outcome = run(driver, ["p"], deadline=driver.now + 100, first=5, cap=30)
    assert outcome.status is WaitStatus.TIMEOUT
    assert "last poll error: server error: unavailable (HTTP 503)" in outcome.message
    assert outcome.counts == {"unknown": 1}
    assert sum(driver.sleeps) == pytest.approx(100)  # the last sleep ends at the deadline


def test_without_a_deadline_an_unreachable_server_is_tolerated_for_unreachable_timeout() -> None:
    start = 1_000_000.0
    reads: list[float] = []

    def answer(call: Call, now: float) -> Any:
        reads.append(now - start)
        if now - start < 50:  # reachable at first: the bound counts from the last good read
            return pred("p", "running")
        raise TransportError("cannot connect to api:443", request=call.label)

    driver = FakeDriver(answer, start)
    outcome = run(driver, ["p"], deadline=None, first=10, cap=10, unreachable_timeout=600)
    assert outcome.status is WaitStatus.ERROR
    assert "unreachable_timeout 600s" in outcome.message and "api:443" in outcome.message
    last_good = max(t for t in reads if t < 50)
    assert 600 <= reads[-1] - last_good < 610
    assert outcome.last_status("p") == "running"


@pytest.mark.parametrize(
    "error",
    [
        NotFoundError("prediction 'p' not found", status_code=404),
        ResponseFormatError("unknown prediction status 'exploded' in the reply"),
    ],
)
def test_errors_that_are_not_transient_end_the_wait_at_once(error: VlmError) -> None:
    def answer(call: Call, now: float) -> Any:
        raise error

    driver = FakeDriver(answer)
    outcome = run(driver, ["p"], deadline=driver.now + 3600)
    assert outcome.status is WaitStatus.ERROR and outcome.error is error
    assert len(driver.calls) == 1


def test_retry_after_wins_over_the_interval() -> None:
    replies = iter([RateLimitError("rate limited", retry_after=42.0), pred("p", "completed")])

    def answer(call: Call, now: float) -> Any:
        reply = next(replies)
        if isinstance(reply, VlmError):
            raise reply
        return reply

    driver = FakeDriver(answer)
    assert run(driver, ["p"], deadline=None, first=1, cap=5).status is WaitStatus.SUCCESS
    assert driver.sleeps == [42.0]


def test_paused_is_logged_once_and_waited_through(caplog: pytest.LogCaptureFixture) -> None:
    statuses = iter(["running", "paused", "paused", "paused", "running", "completed"])
    driver = FakeDriver(lambda call, now: pred("p", next(statuses)))
    with caplog.at_level(logging.INFO, logger="t"):
        outcome = run(driver, ["p"], deadline=None, first=1, cap=1)
    assert outcome.status is WaitStatus.SUCCESS
    assert sum("paused on the server" in r.message for r in caplog.records) == 1
    assert "prediction p: submitted -> running" in caplog.text


def test_failed_prediction_ends_with_failed_and_the_server_message() -> None:
    driver = FakeDriver(lambda call, now: pred("p", "failed", message="not a PDF"))
    outcome = run(driver, ["p"], deadline=None)
    assert outcome.status is WaitStatus.FAILED and "not a PDF" in outcome.message


def test_big_waits_sweep_the_list_and_read_the_missing_ones_one_by_one() -> None:
    ids = [f"p{i}" for i in range(SWEEP_MIN_IDS + 10)]
    listed = ids[:-3]  # three fell off the list's pages

    def answer(call: Call, now: float) -> Any:
        if call.route == "/predictions":
            return [pred(pid, "completed") for pid in listed] if call.params["skip"] == 0 else []
        return pred(call.path.rsplit("/", 1)[1], "completed")

    driver = FakeDriver(answer)
    outcome = run(driver, ids, deadline=None)
    assert outcome.status is WaitStatus.SUCCESS and outcome.counts == {"completed": len(ids)}
    singles = [c.path for c in driver.calls if c.route == "/predictions/{id}"]
    assert singles == [f"/predictions/{pid}" for pid in ids[-3:]]


def test_a_server_that_cannot_list_is_read_one_by_one_from_then_on() -> None:
    ids = [f"p{i}" for i in range(SWEEP_MIN_IDS)]
    rounds = {"n": 0}

    def answer(call: Call, now: float) -> Any:
        if call.route == "/predictions":
            raise NotFoundError("no route GET /predictions", status_code=404)
        rounds["n"] += 1
        return pred(call.path.rsplit("/", 1)[1], "completed" if rounds["n"] > len(ids) else "running")

    driver = FakeDriver(answer)
    outcome = run(driver, ids, deadline=None, first=1, cap=1)
    assert outcome.status is WaitStatus.SUCCESS
    assert sum(c.route == "/predictions" for c in driver.calls) == 1


# --- the real drivers, against the dev server --------------------------------------------------


def _fast_policy() -> RetryPolicy:
    return RetryPolicy(max_retries=1, backoff_base=0.01, backoff_cap=0.05)


def _submit(client: VlmClient) -> str:
    return client.document.generate(domain="document.markdown", url="https://x.test/a.pdf", batch=True).id


OUTAGE = {"method": "GET", "path": "/predictions/*", "status": 503, "seconds": 3}


def test_sync_wait_rides_out_a_503_outage(dev) -> None:
    with VlmClient(dev.api_key, dev.base_url, retry_policy=_fast_policy()) as client:
        pid = _submit(client)
        dev.faults(rules=[OUTAGE])
        done = client.predictions.wait(pid, timeout=60, sleep=0.2)
    assert done.status.value == "completed"
    assert dev.stats()["requests"]["GET /predictions/{id}"] > 4  # it did poll into the outage


async def test_async_wait_rides_out_a_503_outage(dev) -> None:
    async with AsyncVlmClient(dev.api_key, dev.base_url, retry_policy=_fast_policy()) as client:
        pid = (
            await client.document.generate(domain="document.markdown", url="https://x.test/b.pdf", batch=True)
        ).id
        dev.faults(rules=[OUTAGE])
        done = await client.predictions.wait(pid, timeout=60, sleep=0.2)
    assert done.status.value == "completed"


def test_wait_timeout_says_the_prediction_keeps_running(dev) -> None:
    dev.faults(processing_time=600)
    with VlmClient(dev.api_key, dev.base_url, retry_policy=_fast_policy()) as client:
        pid = _submit(client)
        with pytest.raises(PredictionTimeoutError) as info:
            client.predictions.wait(pid, timeout=0.5, sleep=0.1)
    assert pid in str(info.value) and "keeps running on the server" in str(info.value)
    assert dev.api_key not in str(info.value)


def test_an_unknown_id_ends_the_wait_at_once(dev) -> None:
    with VlmClient(dev.api_key, dev.base_url, retry_policy=_fast_policy()) as client:
        with pytest.raises(NotFoundError):
            client.predictions.wait("no-such-id", timeout=600, sleep=5)
