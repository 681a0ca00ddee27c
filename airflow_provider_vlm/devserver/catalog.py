"""The domains the server knows: the platform's published catalog plus the platform-only ones.

The catalog is ``vlmrun-hub`` (the platform's own package of domain schemas, pydantic models
listed in its ``catalog.yaml``); domains the platform serves without a hub schema
(``document.markdown``, ``image.caption``, the transcriptions) are JSON files in ``schemas/``.
Loaded once, on first use, and never changed while the server runs.
"""

from __future__ import annotations

import difflib
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
#: The version the platform-only schemas are served under (the hub's own version for the rest).
PLATFORM_SCHEMA_VERSION = "1.0.0"


@dataclass(frozen=True)
class Domain:
    """One domain: its JSON schema and the hub's metadata (empty for platform-only domains)."""

    name: str
    json_schema: dict[str, Any]
    source: str  # "hub" or "platform"
    version: str
    description: str | None = None
    supported_inputs: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    sample_data: tuple[str, ...] | None = None
    prompt: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def hub_info(self) -> dict[str, Any]:
        """``GET /hub/domains`` entry, shaped as the hub's own server answers."""
        return {
            "domain": self.name,
            "description": self.description,
            "supported_inputs": list(self.supported_inputs) if self.supported_inputs else None,
            "tags": list(self.tags) if self.tags else None,
            "sample_data": list(self.sample_data) if self.sample_data else None,
        }


class CatalogUnavailable(RuntimeError):
    """``vlmrun-hub`` is not installed: the dev server's extra brings it."""


def hub_version() -> str:
    """The installed ``vlmrun-hub`` version (what ``GET /hub/info`` reports)."""
    try:
        from vlmrun.hub.version import __version__
    except ImportError as exc:  # pragma: no cover - the devserver extra installs it
        raise CatalogUnavailable(_MISSING) from exc
    return str(__version__)


_MISSING = (
    "the dev server needs the platform's domain catalog: pip install 'airflow-provider-vlm[devserver]' "
    "(it brings vlmrun-hub)"
)


@functools.lru_cache(maxsize=1)
def _hub() -> dict[str, Domain]:
    try:
        from loguru import logger
        from vlmrun.hub.registry import registry
    except ImportError as exc:
        raise CatalogUnavailable(_MISSING) from exc
    logger.disable("vlmrun")  # the hub logs every catalog load at DEBUG to stderr
    version = hub_version()
    out: dict[str, Domain] = {}
    for name in registry.list_schemas():
        info = registry.get_domain_info(name)
        out[name] = Domain(
            name=name,
            json_schema=registry[name].model_json_schema(),
            source="hub",
            version=version,
            description=info.get("description"),
            supported_inputs=_tuple(info.get("supported_inputs")),
            tags=_tuple(info.get("tags")),
            sample_data=_tuple(info.get("sample_data")),
        )
    return out


def _tuple(value: Any) -> tuple[str, ...] | None:
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else None


@functools.lru_cache(maxsize=1)
def _platform() -> dict[str, Domain]:
    out: dict[str, Domain] = {}
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        out[path.stem] = Domain(
            name=path.stem,
            json_schema=schema,
            source="platform",
            version=PLATFORM_SCHEMA_VERSION,
            description=schema.get("description"),
        )
    return out


@functools.lru_cache(maxsize=1)
def domains() -> dict[str, Domain]:
    """Every known domain by name; the hub wins where both have one."""
    return {**_platform(), **_hub()}


def hub_domains() -> list[Domain]:
    """The catalog's domains (what the SDK's ``hub`` routes serve), sorted by name."""
    return [d for _, d in sorted(_hub().items())]


def known() -> list[str]:
    """Every known domain name, sorted."""
    return sorted(domains())


def get(name: str) -> Domain | None:
    return domains().get(name)


def closest(name: str, limit: int = 3) -> list[str]:
    """Known domains that look like ``name`` (a typo's likely intent), best first.

    Only the near-best matches: "document.invoicee" gets "document.invoice", not every
    ``document.*`` that shares the prefix.
    """
    scored = sorted(
        ((difflib.SequenceMatcher(None, name, known_name).ratio(), known_name) for known_name in known()),
        reverse=True,
    )
    if not scored or scored[0][0] < 0.6:
        return []
    best = scored[0][0]
    return [n for score, n in scored[:limit] if score >= max(0.6, best - 0.05)]


def unknown_message(name: str) -> str:
    """What the server says about a domain it does not know: the domain and the closest ones."""
    near = closest(name)
    hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
    return f"unknown domain {name!r}{hint} (GET /domains lists the {len(domains())} known domains)"
