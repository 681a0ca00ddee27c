"""The batch's durable state: one ``durable.SubmissionRecord`` per input, chunked in ``task_state_store``.

A retry of a batch must know, for every input, what an earlier try asked for (fingerprint,
generation, intent) and got (prediction id, last terminal status), so it submits only what has no
prediction or whose prediction failed. The rules are ``durable.decide`` / ``durable.after_status``,
the same as ``GenerateOperator``'s; only the storage differs.

One value per input would be thousands of keys; one value for the batch would exceed
``[state_store] max_value_storage_bytes`` (64 KB by default) past a few hundred inputs. So rows are
packed into chunks of at most ``CHUNK_BYTES`` under ``vlm_batch.<n>``, with a small header under
``vlm_batch``. Inputs keep the chunk they were first given (new inputs are appended), so a write
touches only the chunks that changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from airflow_provider_vlm.client import PredictionStatus
from airflow_provider_vlm.durable import RecordError, StateStore, SubmissionRecord

#: ``task_state_store`` key of the header; chunks are ``f"{HEADER_KEY}.{n}"``. Renaming breaks retries.
HEADER_KEY = "vlm_batch"
STATE_VERSION = 1
#: Key of the inputs that never became a prediction in the last submitting try (label -> reason).
INVALID_KEY = f"{HEADER_KEY}.invalid"
#: Target size of one chunk's JSON, well under the 64 KB ``max_value_storage_bytes`` default.
CHUNK_BYTES = 48_000


@dataclass(frozen=True)
class InputState:
    """What is durably known about one input."""

    record: SubmissionRecord
    #: Last terminal status seen (``completed``/``failed``), so a retry need not ask again.
    status: PredictionStatus | None = None

    def row(self, label: str) -> list[Any]:
        r = self.record
        status = None if self.status is None else self.status.value
        return [label, r.fingerprint, r.clear_number, r.generation, r.intent_at, r.prediction_id, status]

    @classmethod
    def from_row(cls, row: Any) -> tuple[str, InputState]:
        if not isinstance(row, list) or len(row) != 7:
            raise RecordError(f"batch state row is malformed: {row!r}")
        label, fp, clear, gen, intent_at, pid, status = row
        record = SubmissionRecord.from_json(
            {
                "fingerprint": fp,
                "clear_number": clear,
                "generation": gen,
                "intent_at": intent_at,
                "prediction_id": pid,
            }
        )
        try:
            known = None if status is None else PredictionStatus(status)
        except ValueError:
            raise RecordError(f"batch state row has an unknown status: {row!r}") from None
        return str(label), cls(record, known)

    def with_status(self, status: PredictionStatus) -> InputState:
        return replace(self, status=status if status.is_terminal else None)


def _row_bytes(label: str) -> int:
    # label + 64 hex fingerprint + ISO time + prediction id + status + JSON punctuation
    return len(json.dumps(label)) + 180


class BatchState:
    """Per-input records of one task instance, read once per try and written chunk by chunk."""

    def __init__(self, store: StateStore, header: Mapping[str, Any] | None = None) -> None:
        self.store = store
        self.entries: dict[str, InputState] = {}
        self._chunks: list[list[str]] = []  # labels per chunk, in first-seen order
        self._chunk_of: dict[str, int] = {}
        self._chunk_size: list[int] = []
        self._dirty: set[int] = set()
        self._header_dirty = header is None

    # --- reading -------------------------------------------------------------------------------

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> BatchState:
        store = context.get("task_state_store")
        if store is None:
            raise RecordError(
                "task_state_store is not available in this context; it is needed to retry a batch "
                "without duplicate predictions (Airflow >= 3.3)"
            )
        return cls.load(store)

    @classmethod
    def load(cls, store: StateStore) -> BatchState:
        """Everything an earlier try wrote; a read that fails raises ``RecordError``, never "empty"."""
        header = _get(store, HEADER_KEY)
        if header is None:
            return cls(store)
        if not isinstance(header, Mapping) or header.get("version") != STATE_VERSION:
            raise RecordError(f"batch state header {HEADER_KEY!r} is not understood: {header!r}")
        state = cls(store, header)
        try:
            chunk_count = int(header["chunks"])
        except (KeyError, TypeError, ValueError):
            raise RecordError(f"batch state header {HEADER_KEY!r} is malformed: {header!r}") from None
        for index in range(chunk_count):
            rows = _get(store, f"{HEADER_KEY}.{index}")
            if rows is None:
                raise RecordError(f"batch state chunk {HEADER_KEY}.{index} is missing")
            if not isinstance(rows, list):
                raise RecordError(f"batch state chunk {HEADER_KEY}.{index} is not a list")
            state._chunks.append([])
            state._chunk_size.append(0)
            for row in rows:
                label, entry = InputState.from_row(row)
                state._place(label, index)
                state.entries[label] = entry
        return state

    # --- writing -------------------------------------------------------------------------------

    def put(self, label: str, entry: InputState) -> None:
        """Change one input's state in memory; ``flush`` writes the chunks that changed."""
        if label not in self._chunk_of:
            self._append(label)
        self.entries[label] = entry
        self._dirty.add(self._chunk_of[label])

    def flush(self) -> None:
        """Write changed chunks, then the header (so the header never names a chunk not yet written)."""
        for index in sorted(self._dirty):
            rows = [self.entries[label].row(label) for label in self._chunks[index]]
            _set(self.store, f"{HEADER_KEY}.{index}", rows)
        self._dirty.clear()
        if self._header_dirty:
            _set(self.store, HEADER_KEY, {"version": STATE_VERSION, "chunks": len(self._chunks)})
            self._header_dirty = False

    def put_many(self, items: Iterable[tuple[str, InputState]]) -> None:
        for label, entry in items:
            self.put(label, entry)

    def save_invalid(self, invalid: Mapping[str, str]) -> None:
        """Why inputs never became a prediction, so the resumed task can report it."""
        _set(self.store, INVALID_KEY, dict(invalid))

    def load_invalid(self) -> dict[str, str]:
        value = _get(self.store, INVALID_KEY)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise RecordError(f"batch state {INVALID_KEY!r} is not an object")
        return {str(k): str(v) for k, v in value.items()}

    @property
    def chunk_count(self) -> int:
        return len(self._chunks)

    def _append(self, label: str) -> None:
        size = _row_bytes(label)
        if not self._chunks or self._chunk_size[-1] + size > CHUNK_BYTES:
            self._chunks.append([])
            self._chunk_size.append(0)
            self._header_dirty = True
        self._place(label, len(self._chunks) - 1)

    def _place(self, label: str, index: int) -> None:
        self._chunks[index].append(label)
        self._chunk_size[index] += _row_bytes(label)
        self._chunk_of[label] = index


def _get(store: StateStore, key: str) -> Any:
    try:
        return store.get(key, None)
    except Exception as exc:  # any failure to read must stop the task, not look like "no record"
        raise RecordError(f"cannot read the batch state {key!r}: {exc}") from exc


def _set(store: StateStore, key: str, value: Any) -> None:
    from airflow.sdk.execution_time.context import NEVER_EXPIRE

    try:
        store.set(key, value, retention=NEVER_EXPIRE)
    except Exception as exc:
        raise RecordError(f"cannot write the batch state {key!r}: {exc}") from exc
