"""Where the durable records live, and reading and writing them: failures are errors, large values chunked.

``task_state_store`` survives deferral resumes and retries, which is why the durable records live
there on Airflow 3.3; below 3.3 (no ``task_state_store``) they live in Airflow Variables
(``_variable_store``), chosen by ``for_task``. Two rules hold for every value this package stores: a read that fails raises
``RecordError`` (it is never taken for "nothing stored": guessing that is how duplicates get
billed), and no value exceeds the store's value size limit (``[state_store]
max_value_storage_bytes``, 65,535 bytes by default): large lists go through ``ChunkedList``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from airflow_provider_vlm._compat import HAS_TASK_STATE_STORE, NEVER_EXPIRE, TaskStateStoreAccessor
from airflow_provider_vlm._variable_store import VariableStateStore
from airflow_provider_vlm.identity import identity_key

log = logging.getLogger(__name__)


class RecordError(RuntimeError):
    """The durable record could not be read or written; the task must not guess."""


class StateStore(Protocol):
    """What is used of ``context["task_state_store"]`` (and of the Variables store below 3.3)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any, *, retention: Any = None) -> None: ...


#: Target size of one stored value's JSON, well under ``[state_store] max_value_storage_bytes``
#: (65,535 bytes by default).
CHUNK_BYTES = 48_000
CHUNKS_VERSION = 1


def _json_size(value: Any) -> int:
    """Bytes of the value as JSON with the default (spaced) separators, the larger of the usual forms."""
    return len(json.dumps(value, default=str).encode())


class ChunkedList:
    """A list of JSON items kept in ``task_state_store`` as chunks under the store's value limit.

    The header ``key`` says how many chunks there are; items live under ``key.0``, ``key.1``...
    An item keeps the chunk it was first given, so ``flush`` rewrites only the chunks that
    changed, and the header last (it never names a chunk not yet written). Every large value
    this package stores goes through here: one place knows the limit.
    """

    def __init__(self, store: StateStore, key: str, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.store = store
        self.key = key
        self.chunk_bytes = chunk_bytes
        self.items: list[Any] = []
        self._chunk_of: list[int] = []  # item index -> chunk index
        self._sizes: list[int] = []  # bytes per chunk (approximate: items plus separators)
        self._dirty: set[int] = set()
        self._header_dirty = False

    def chunk_key(self, index: int) -> str:
        return f"{self.key}.{index}"

    @property
    def chunk_count(self) -> int:
        return len(self._sizes)

    def load(self) -> ChunkedList:
        """Read every chunk; a missing or malformed one raises ``RecordError``, never "empty"."""
        header = read_value(self.store, self.key)
        if header is None:
            return self
        if not isinstance(header, Mapping) or header.get("version") != CHUNKS_VERSION:
            raise RecordError(f"stored value {self.key!r} is not a chunk header: {header!r}")
        try:
            count = int(header["chunks"])
        except (KeyError, TypeError, ValueError):
            raise RecordError(f"chunk header {self.key!r} is malformed: {header!r}") from None
        for index in range(count):
            rows = read_value(self.store, self.chunk_key(index))
            if not isinstance(rows, list):
                raise RecordError(f"chunk {self.chunk_key(index)!r} is missing or not a list")
            self._sizes.append(2)
            for row in rows:
                self._place(row, index)
        return self

    def append(self, item: Any) -> int:
        size = _json_size(item) + 2
        if size + 2 > self.chunk_bytes:
            raise RecordError(f"one item of {self.key!r} is {size:,} bytes, over the chunk size")
        if not self._sizes or self._sizes[-1] + size > self.chunk_bytes:
            self._sizes.append(2)
            self._header_dirty = True
        index = self._place(item, len(self._sizes) - 1)
        self._dirty.add(self._chunk_of[index])
        return index

    def extend(self, items: Iterable[Any]) -> None:
        for item in items:
            self.append(item)

    def reset(self, items: Iterable[Any]) -> None:
        """Replace the whole list; ``flush`` writes it, header included (even when empty)."""
        self.items, self._chunk_of, self._sizes = [], [], []
        self._dirty.clear()
        self.extend(items)
        self._header_dirty = True

    def replace(self, index: int, item: Any) -> None:
        """Change one item in place; it stays in its chunk (rows of a batch keep their size)."""
        chunk = self._chunk_of[index]
        self._sizes[chunk] += _json_size(item) - _json_size(self.items[index])
        if self._sizes[chunk] > self.chunk_bytes + self.chunk_bytes // 4:
            raise RecordError(f"chunk {self.chunk_key(chunk)!r} outgrew the value limit")
        self.items[index] = item
        self._dirty.add(chunk)

    def flush(self) -> None:
        for chunk in sorted(self._dirty):
            rows = [item for item, c in zip(self.items, self._chunk_of, strict=True) if c == chunk]
            write_value(self.store, self.chunk_key(chunk), rows)
        self._dirty.clear()
        if self._header_dirty:
            write_value(self.store, self.key, {"version": CHUNKS_VERSION, "chunks": len(self._sizes)})
            self._header_dirty = False

    def _place(self, item: Any, chunk: int) -> int:
        self.items.append(item)
        self._chunk_of.append(chunk)
        self._sizes[chunk] += _json_size(item) + 2
        return len(self.items) - 1


def read_value(store: StateStore, key: str) -> Any:
    """One stored value; any failure to read is a ``RecordError``, never \"nothing stored\"."""
    try:
        return store.get(key, None)
    except Exception as exc:  # any failure to read must stop the task, not look like "no record"
        raise RecordError(f"cannot read the stored value {key!r}: {exc}") from exc


def write_value(store: StateStore, key: str, value: Any) -> None:
    """Store one value for good (no expiry); any failure is a ``RecordError``."""
    try:
        store.set(key, value, retention=NEVER_EXPIRE)
    except Exception as exc:
        raise RecordError(f"cannot write the stored value {key!r}: {exc}") from exc


class UpgradedStore:
    """``task_state_store`` that, on its first miss, moves in a record written below Airflow 3.3.

    A task that was in flight across the upgrade (deferred, or between retries) wrote its record
    to Variables; it is copied here and deleted there, so the retry re-attaches as it would have.
    The price is one execution-API read on a try that finds no record (a first try, usually).
    """

    def __init__(self, store: StateStore, legacy: VariableStateStore) -> None:
        self.store = store
        self.legacy = legacy
        self._looked = False

    def get(self, key: str, default: Any = None) -> Any:
        value = self.store.get(key, None)
        if value is None and not self._looked:
            self._looked = True
            if self.legacy.keys:
                for name in self.legacy.keys:
                    self.store.set(name, self.legacy.get(name), retention=NEVER_EXPIRE)
                log.info("moved the durable record written before Airflow 3.3 into task_state_store")
                self.legacy.clear()
                value = self.store.get(key, None)
        return default if value is None else value

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.store.set(key, value, retention=retention)


class FirstTryStore:
    """The store as the first try of a task instance starts: nothing is stored yet, so nothing is asked.

    Try 1 is the first time this task instance runs in its DAG run (a retry or a Clear raises
    ``try_number``), so no earlier try can have written a record. The Task SDK has no read that
    answers "absent" without an error: ``task_state_store.get`` and ``Variable`` lookups of a
    missing key make the API server answer 404, and log it, for every key on every task. Keys
    this try writes are read back from the store as usual.
    """

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.written: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        return self.store.get(key, default) if key in self.written else default

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.store.set(key, value, retention=retention)
        self.written.add(key)


#: One Variables store per try of a task instance in this process: its index is read once, the
#: log line said once.
_VARIABLE_STORES: dict[tuple[str, int], VariableStateStore] = {}


def _identity(context: Mapping[str, Any]) -> str:
    ti = context["ti"]
    return identity_key(ti.dag_id, ti.task_id, ti.run_id, ti.map_index)


def _try(context: Mapping[str, Any]) -> int:
    return int(getattr(context["ti"], "try_number", 0) or 0)


def for_task(context: Mapping[str, Any], purpose: str, *, starting: bool = False) -> StateStore:
    """The store of this task instance's durable records on this Airflow line.

    3.3: ``context["task_state_store"]`` (its absence is an error, never "no record"). Below 3.3:
    Airflow Variables, as ``task_state_store`` does not exist and XCom is cleared by a retry.
    ``starting``: called as a try's ``execute`` begins; on try 1 nothing is read (``FirstTryStore``).
    """
    first = starting and _try(context) == 1
    if HAS_TASK_STATE_STORE:
        store = context.get("task_state_store")
        if store is None:
            raise RecordError(f"task_state_store is not available in this context; it is needed to {purpose}")
        if first:
            return FirstTryStore(store)
        if isinstance(store, TaskStateStoreAccessor):
            return UpgradedStore(store, VariableStateStore(_identity(context)))
        return store
    identity = _identity(context)
    variables = _VARIABLE_STORES.get((identity, _try(context)))
    if variables is None:
        variables = _VARIABLE_STORES[identity, _try(context)] = VariableStateStore(identity)
        if first:
            variables.assume_empty()
        log.info(
            "Airflow below 3.3 has no task_state_store: this task's durable record lives in Airflow "
            "Variables %s.*, deleted when the task succeeds",
            variables.base,
        )
    return variables


def cleanup_after_success(context: Mapping[str, Any]) -> None:
    """Below 3.3: delete the task's record from Variables (nothing reads it after a success)."""
    if HAS_TASK_STATE_STORE:
        return
    identity = _identity(context)
    store = _VARIABLE_STORES.pop((identity, _try(context)), None) or VariableStateStore(identity)
    try:
        store.clear()
    except Exception as exc:  # the task succeeded: a leftover record is only clutter, say so
        log.warning("could not delete the durable record %s.* after success: %s", store.base, exc)
