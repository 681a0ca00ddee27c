"""A typo in ``domain`` fails the task before anything is uploaded or billed.

The operators call ``check_domain(client, domain)`` once per task, before their first upload or
create. It reads the server's domain list (``GET /domains``) once per client, which is once per
task (the hook keeps one client for the task), and raises ``UnknownDomainError`` naming the
closest known domains. A server without that route (404) is not checked: the generate call
then decides. The check is an early answer, never a new way to fail: when the list cannot be
read for a passing reason (rate limit, 5xx, no connection), the task goes on without it.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import weakref
from typing import Protocol

from airflow_provider_vlm.client import DomainInfo, NotFoundError, UnknownDomainError
from airflow_provider_vlm.client.errors import TRANSIENT_ERRORS

log = logging.getLogger(__name__)

#: How many of the closest known domains the error suggests.
SUGGESTIONS = 3
#: How alike a known domain must be to be suggested (``difflib`` ratio).
CUTOFF = 0.6
#: Suggest others only when they are about as close as the best one.
NEAR = 0.05


class DomainLister(Protocol):
    def list_domains(self) -> list[DomainInfo]: ...


# The domains each client has seen (None: the server has no domain list). Weak keys: the cache
# lives as long as the client, that is, as long as the task.
_known: weakref.WeakKeyDictionary[DomainLister, frozenset[str] | None] = weakref.WeakKeyDictionary()


def check_domain(client: DomainLister, domain: str) -> None:
    """Raise ``UnknownDomainError`` when the server's domain list does not have ``domain``."""
    known = _known_domains(client)
    if known is None or domain in known:
        return
    raise UnknownDomainError(domain, suggest(domain, known))


def suggest(domain: str, known: frozenset[str] | set[str] | list[str]) -> list[str]:
    """The known domains closest to ``domain``, best first: only the near-best, at most three."""
    scored = sorted(
        ((difflib.SequenceMatcher(None, domain, k).ratio(), k) for k in known), key=lambda s: (-s[0], s[1])
    )
    if not scored or scored[0][0] < CUTOFF:
        return []
    floor = max(CUTOFF, scored[0][0] - NEAR)
    return [name for score, name in scored[:SUGGESTIONS] if score >= floor]


def _known_domains(client: DomainLister) -> frozenset[str] | None:
    try:
        return _known[client]
    except (KeyError, TypeError):
        pass
    try:
        listed: frozenset[str] | None = frozenset(d.domain for d in client.list_domains())
    except NotFoundError:
        log.debug("the server has no domain list (GET /domains answered 404): domain not checked")
        listed = None
    except TRANSIENT_ERRORS as exc:
        log.warning("could not read the server's domain list (%s): domain not checked", exc)
        return None  # not cached: the next task asks again
    with contextlib.suppress(TypeError):  # a client without weak references is not cached
        _known[client] = listed
    return listed
