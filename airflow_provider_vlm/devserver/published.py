"""The schema the server publishes for each domain: the catalog's, unless a test published another.

The platform versions its domain schemas; when it publishes a new one, ``POST /schema`` answers
another ``schema_hash`` (and ``schema_version``). ``POST /v1/_dev/schemas`` plays that part so a
test can prove what a night does when the schema changed under it (schema drift); ``DELETE``
(or ``/_dev/reset``) restores the catalog's. Only what the schema routes serve changes: the engines
keep extracting the catalog's fields, as a platform's model does until it is retrained.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from . import catalog


@dataclass(frozen=True)
class Published:
    json_schema: dict[str, Any]
    #: ``None``: the catalog's own version (its schema) or the platform's default.
    version: str | None


class PublishedSchemas:
    """Per-domain replacements of the catalog's schema, set through the admin routes."""

    def __init__(self) -> None:
        self._by_domain: dict[str, Published] = {}
        self._lock = threading.Lock()

    def get(self, domain: str) -> Published | None:
        """What the schema routes serve for ``domain``; ``None`` when the server does not know it."""
        with self._lock:
            found = self._by_domain.get(domain)
        if found is not None:
            return found
        entry = catalog.get(domain)
        return None if entry is None else Published(entry.json_schema, None)

    def publish(self, domain: str, json_schema: dict[str, Any], version: str) -> None:
        with self._lock:
            self._by_domain[domain] = Published(json_schema, version)

    def restore(self, domain: str | None = None) -> None:
        """Back to the catalog's schema, for ``domain`` or every domain."""
        with self._lock:
            if domain is None:
                self._by_domain.clear()
            else:
                self._by_domain.pop(domain, None)

    def to_wire(self) -> dict[str, Any]:
        with self._lock:
            return {d: {"schema_version": p.version} for d, p in sorted(self._by_domain.items())}
