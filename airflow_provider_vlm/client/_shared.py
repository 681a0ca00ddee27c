"""Async clients shared within a process: one per (settings, pool size, event loop).

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
from collections.abc import AsyncIterator
from dataclasses import dataclass

from airflow_provider_vlm.client._settings import ClientSettings
from airflow_provider_vlm.client.async_ import AsyncVlmClient


@dataclass
class _Lease:
    client: AsyncVlmClient
    users: int = 0


_Key = tuple[ClientSettings, int, asyncio.AbstractEventLoop]
_leases: dict[_Key, _Lease] = {}


def _new_client(settings: ClientSettings, max_connections: int) -> AsyncVlmClient:
    return AsyncVlmClient(
        settings.api_key,
        settings.base_url,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        verify=settings.verify,
        max_connections=max_connections,
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
    lease.users += 1
    try:
        yield lease.client
    finally:
        lease.users -= 1
        if lease.users == 0 and _leases.get(key) is lease:
            del _leases[key]
            await lease.client.aclose()


def shared_client_count() -> int:
    """How many shared clients are open (for tests and benchmarks)."""
    return len(_leases)
