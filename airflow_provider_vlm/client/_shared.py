"""Async clients shared within a process: one per (settings, pool size, event loop), and their rounds.

A triggerer runs many waits in one event loop. Each wait building its own ``httpx.AsyncClient``
costs a connection pool and, before the SSL context was shared, a CA-bundle load: a thousand
waits on one connection need one client. A lease counts its users; the last one to leave closes
the client, so a connection whose settings change (new key, new URL) simply gets a new client
while waits that started earlier finish on the old one.

The cache key holds the settings, whose API key never appears in a ``repr``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from airflow_provider_vlm.client._core import Operation, ReadStatuses, Step
from airflow_provider_vlm.client._polling import SWEEP_MIN_IDS, Reads, read_round
from airflow_provider_vlm.client._settings import ClientSettings, shared_ssl_context
from airflow_provider_vlm.client.async_ import AsyncVlmClient

T = TypeVar("T")


class StatusBoard:
    """Shares poll rounds between the waits on one client: one round of requests serves them all.

    A wait run with ``run_coalesced`` hands each round's ids to the board instead of reading them
    itself. The board collects what every wait asks for during a window, reads the union with
    ``read_round`` (a list sweep once there are ``SWEEP_MIN_IDS`` ids or more, per-id reads for the
    rest) and gives each wait its own ids back. Waits answered together stay in step and keep
    sharing rounds.

    Tasks of a real deployment defer over minutes, so their waits poll out of step: 1,000 waits
    polling every 30 s ask for about 33 ids a second, and a 0.1 s window read them one by one
    (2,000 requests a minute, measured). Once ``SWEEP_MIN_IDS`` waits share the board, the window
    is as long as it takes, at the rate ids have been asked for, to gather ``round_ids`` of them
    (one sweep), but at most ``max_crowd_window``: that much later detection at worst.
    """

    #: Seconds the board gathers asks before reading them, while few waits share it.
    window = 0.1
    #: Ids a round should gather once many waits share the board, and the longest window for it.
    round_ids = 2 * SWEEP_MIN_IDS
    max_crowd_window = 5.0

    def __init__(self, client: AsyncVlmClient) -> None:
        self._client = client
        self._sweep_ok = True
        self._asks: list[tuple[ReadStatuses, asyncio.Future[tuple[Reads, bool]]]] = []
        self._flush: asyncio.Task[None] | None = None
        #: Waits running on this board (``run_coalesced``), which picks the window.
        self.waits = 0
        #: Ids asked for per second (smoothed), from ``_asked`` ids since ``_since``.
        self._rate = 0.0
        self._asked = 0
        self._since = time.monotonic()

    def next_window(self) -> float:
        """How long the next round gathers asks (see the class docstring)."""
        now = time.monotonic()
        if now - self._since >= 1.0:
            sample = self._asked / (now - self._since)
            self._rate = sample if not self._rate else (self._rate + sample) / 2
            self._asked, self._since = 0, now
        if self.waits < SWEEP_MIN_IDS or self._rate <= 0:
            return self.window
        return min(self.max_crowd_window, max(self.window, self.round_ids / self._rate))

    async def read(self, step: ReadStatuses) -> tuple[Reads, bool]:
        answer: asyncio.Future[tuple[Reads, bool]] = asyncio.get_running_loop().create_future()
        self._asks.append((step, answer))
        self._asked += len(step.ids)
        if self._flush is None:
            self._flush = asyncio.create_task(self._read_all())
        return await answer

    async def _read_all(self) -> None:
        await asyncio.sleep(self.next_window())
        asks, self._asks, self._flush = self._asks, [], None
        asks = [(step, answer) for step, answer in asks if not answer.done()]  # not the cancelled
        if not asks:
            return
        ids = list(dict.fromkeys(pid for step, _ in asks for pid in step.ids))
        # A big wait sweeps to its end (its total size decided that); many small ones once together
        # they are big.
        sweep = self._sweep_ok and (len(ids) >= SWEEP_MIN_IDS or any(step.sweep for step, _ in asks))
        try:
            reads, sweep_after = await self._client._run(
                read_round(ids, sweep, max(step.limit for step, _ in asks))
            )
        except BaseException as exc:  # a bug, or cancellation: every wait hears of it
            for _, answer in asks:
                if not answer.done():
                    answer.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        if sweep and not sweep_after:
            self._sweep_ok = False
        for step, answer in asks:
            if not answer.done():
                answer.set_result(({pid: reads[pid] for pid in step.ids}, step.sweep and self._sweep_ok))


def _one(step: Step) -> Operation[Any]:
    return (yield step)


async def run_coalesced(client: AsyncVlmClient, operation: Operation[T]) -> T:
    """Run ``operation`` on ``client`` (a shared one), answering its ``ReadStatuses`` steps from
    the client's board; every other step goes to the client's own driver."""
    board = _boards.get(id(client)) or StatusBoard(client)  # a client of its own: a board of its own
    result: Any = None
    board.waits += 1
    try:
        while True:
            step = operation.send(result)
            if isinstance(step, ReadStatuses):
                result = await board.read(step)
            else:
                result = await client._run(_one(step))
    except StopIteration as done:
        return done.value
    finally:
        board.waits -= 1


@dataclass
class _Lease:
    client: AsyncVlmClient
    users: int = 0


_Key = tuple[ClientSettings, int, asyncio.AbstractEventLoop]
_leases: dict[_Key, _Lease] = {}
_boards: dict[int, StatusBoard] = {}


class _QueueFirst(httpx.AsyncBaseTransport):
    """Admits at most ``limit`` requests into the connection pool; the rest wait in a plain queue.

    httpcore's pool scans every queued request against every connection each time one finishes:
    a thousand waits polling at once made that scan most of the triggerer's CPU. A request holds
    its place until its reply body is closed, so the pool never sees more than it can serve.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, limit: int) -> None:
        self._inner = inner
        self._slots = asyncio.Semaphore(limit)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._slots.acquire()
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            self._slots.release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Releasing(response.stream, self._slots)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Releasing(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, slots: asyncio.Semaphore) -> None:
        self._inner = inner
        self._slots: asyncio.Semaphore | None = slots

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._slots is not None:
                self._slots.release()
                self._slots = None


def _new_client(settings: ClientSettings, max_connections: int) -> AsyncVlmClient:
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    pool = httpx.AsyncHTTPTransport(verify=shared_ssl_context(settings.verify), limits=limits)
    return AsyncVlmClient(
        settings.api_key,
        settings.base_url,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        verify=settings.verify,
        max_connections=max_connections,
        transport=_QueueFirst(pool, max_connections),
        key_owner=settings.key_owner,
    )


@contextlib.asynccontextmanager
async def shared_async_client(
    settings: ClientSettings, max_connections: int = 20
) -> AsyncIterator[AsyncVlmClient]:
    """The process's client for these settings in the running loop, for the ``async with`` block.

    httpx clients are bound to the event loop they first ran in, so the loop is part of the key.
    """
    key: _Key = (settings, max_connections, asyncio.get_running_loop())
    lease = _leases.get(key)
    if lease is None:
        lease = _leases[key] = _Lease(_new_client(settings, max_connections))
        _boards[id(lease.client)] = StatusBoard(lease.client)
    lease.users += 1
    try:
        yield lease.client
    finally:
        lease.users -= 1
        if lease.users == 0 and _leases.get(key) is lease:
            del _leases[key]
            del _boards[id(lease.client)]
            await lease.client.aclose()


def shared_client_count() -> int:
    """How many shared clients are open (for tests and benchmarks)."""
    return len(_leases)
