"""Reading and writing ``task_state_store`` values: failures are errors, large values are chunked.

``task_state_store`` survives deferral resumes and retries, which is why the durable records live
there. Two rules hold for every value this package stores: a read that fails raises
``RecordError`` (it is never taken for "nothing stored": guessing that is how duplicates get
billed), and no value exceeds the store's value size limit (``[state_store]
max_value_storage_bytes``, 65,535 bytes by default): large lists go through ``ChunkedList``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol


class RecordError(RuntimeError):
    """The durable record could not be read or written; the task must not guess."""


class StateStore(Protocol):
    """What is used of ``context["task_state_store"]``."""

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
    from airflow.sdk.execution_time.context import NEVER_EXPIRE

    try:
        store.set(key, value, retention=NEVER_EXPIRE)
    except Exception as exc:
        raise RecordError(f"cannot write the stored value {key!r}: {exc}") from exc
