"""The one definition of a task's identity, an input's fingerprint and the Idempotency-Key.

The identity never includes ``try_number``: every try of the same task instance in the same run
is the same piece of work, so a retry must find (and never re-bill) what an earlier try submitted.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _sha256(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def identity_key(dag_id: str, task_id: str, run_id: str, map_index: int | None) -> str:
    return _sha256(dag_id, task_id, run_id, str(-1 if map_index is None else map_index))


def fingerprint(**parts: Any) -> str:
    """Hash of what defines a submission (media, domain, model, input md5 or URL, config, conn id)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key(identity: str, input_fingerprint: str, generation: int) -> str:
    """Same identity, same input, same generation → same key → the server hands back the same prediction."""
    return _sha256(identity, input_fingerprint, str(generation))
