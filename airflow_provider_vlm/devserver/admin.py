"""Who may call the admin routes (``/v1/_dev/*``: reset, faults, finish, stats).

On a loopback address only this machine can reach them, so they take no key (tests and the demo
drive them freely). Bound to any other address, a shared server's state and faults would be open
to the network: the admin routes then need a key, the ``--admin-key`` ones when given, else the
API keys. Giving ``--admin-key`` asks for it on loopback too.
"""

from __future__ import annotations

import ipaddress

#: Host names that resolve to this machine only.
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def is_loopback(host: str) -> bool:
    """True when ``host`` (an address or name to bind) is reachable from this machine only.

    ``0.0.0.0`` and ``::`` (every interface) and any other address or name are not.
    """
    name = host.strip().strip("[]").lower()
    if name in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def admin_keys(host: str, api_keys: list[str], given: list[str] | None) -> list[str] | None:
    """The keys the admin routes accept, or ``None`` when they need none."""
    if given:
        return list(given)
    if is_loopback(host):
        return None
    return list(api_keys)


def start_notice(host: str, keys: list[str] | None, explicit: bool) -> str | None:
    """What the server says at start about its admin routes (``None``: nothing to say)."""
    if keys is None:
        return None
    which = "an --admin-key" if explicit else "an API key"
    where = "" if explicit and is_loopback(host) else f" (bound to {host}, not loopback)"
    return f"VLM dev server: the admin routes /v1/_dev/* need {which} (Authorization: Bearer <key>){where}"
