"""The batch's durable state: one ``durable.SubmissionRecord`` per input, chunked in ``task_state_store``.

A retry of a batch must know, for every input, what an earlier try asked for (fingerprint,
generation, intent) and got (prediction id, last terminal status), so it submits only what has no
prediction or whose prediction failed. The rules are ``durable.check_recorded``, the same as
``GenerateOperator``'s; only the storage differs.

Each input's row is its record's own JSON (``SubmissionRecord.to_json``) plus the input's label
and last terminal status. One value per input would be thousands of keys, one value for the
batch would exceed ``[state_store] max_value_storage_bytes``: rows go through
``durable.ChunkedList`` (``vlm_batch`` header, ``vlm_batch.<n>`` chunks), and so do the list of
inputs that never became a prediction (``vlm_batch.invalid``) and the labels the try listed, in
input order (``vlm_batch.inputs``), which the resumed task collects without listing again. Under a
credit budget, the inputs the try left unsubmitted go to ``vlm_batch.left`` (``_budget``). The
schema the try read goes to ``vlm_batch.schema`` (``_drift``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from airflow_provider_vlm.client import PredictionStatus
from airflow_provider_vlm.durable import SubmissionRecord
from airflow_provider_vlm.state_store import (
    ChunkedList,
    RecordError,
    StateStore,
    for_task,
    read_value,
    write_value,
)

#: ``task_state_store`` key of the header; chunks are ``f"{HEADER_KEY}.{n}"``. Renaming breaks retries.
HEADER_KEY = "vlm_batch"
#: Key of the inputs that never became a prediction in the last submitting try: ``[label, reason]``,
#: or ``[label, reason, fingerprint, clear_number]`` for an input refused for what it is, which a
#: retry of the same clear does not submit again while its fingerprint is the same.
INVALID_KEY = f"{HEADER_KEY}.invalid"
#: Key of the labels the submitting try listed, in input order.
INPUTS_KEY = f"{HEADER_KEY}.inputs"
#: Key of the inputs the last submitting try did not submit because of ``max_credits``: ``[label, reason]``.
LEFT_KEY = f"{HEADER_KEY}.left"
#: Key of the schema the last submitting try read (``_drift.SchemaCheck``), which the resume writes out.
SCHEMA_KEY = f"{HEADER_KEY}.schema"


@dataclass(frozen=True)
class Refusal:
    """An input the server or the provider refused for what it is (not a PDF, empty, too large...)."""

    reason: str
    fingerprint: str
    clear_number: int


@dataclass(frozen=True)
class InputState:
    """What is durably known about one input."""

    record: SubmissionRecord
    #: Last terminal status seen (``completed``/``failed``), so a retry need not ask again.
    status: PredictionStatus | None = None

    def row(self, label: str) -> dict[str, Any]:
        status = None if self.status is None else self.status.value
        return {"input": label, **self.record.to_json(), "status": status}

    @classmethod
    def from_row(cls, row: Any) -> tuple[str, InputState]:
        if isinstance(row, list) and len(row) == 7:  # written before rows were records (positional)
            keys = (
                "input",
                "fingerprint",
                "clear_number",
                "generation",
                "intent_at",
                "prediction_id",
                "status",
            )
            row = dict(zip(keys, row, strict=True))
        if not isinstance(row, Mapping) or "input" not in row:
            raise RecordError(f"batch state row is malformed: {row!r}")
        record = SubmissionRecord.from_json(row)
        status = row.get("status")
        try:
            known = None if status is None else PredictionStatus(status)
        except ValueError:
            raise RecordError(f"batch state row has an unknown status: {row!r}") from None
        return str(row["input"]), cls(record, known)

    def with_status(self, status: PredictionStatus) -> InputState:
        return replace(self, status=status if status.is_terminal else None)


class BatchState:
    """Per-input records of one task instance, read once per try and written chunk by chunk."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.entries: dict[str, InputState] = {}
        self._rows = ChunkedList(store, HEADER_KEY)
        self._index: dict[str, int] = {}

    @classmethod
    def from_context(cls, context: Mapping[str, Any], *, starting: bool = False) -> BatchState:
        """``starting``: as a try's ``execute`` begins (try 1 then reads nothing: ``FirstTryStore``)."""
        return cls.load(for_task(context, "retry a batch without duplicate predictions", starting=starting))

    @classmethod
    def load(cls, store: StateStore) -> BatchState:
        """Everything an earlier try wrote; a read that fails raises ``RecordError``, never "empty"."""
        state = cls(store)
        state._rows.load()
        for index, row in enumerate(state._rows.items):
            label, entry = InputState.from_row(row)
            state._index[label] = index
            state.entries[label] = entry
        return state

    def put(self, label: str, entry: InputState) -> None:
        """Change one input's state in memory; ``flush`` writes the chunks that changed."""
        self.entries[label] = entry
        index = self._index.get(label)
        if index is None:
            self._index[label] = self._rows.append(entry.row(label))
        else:
            self._rows.replace(index, entry.row(label))

    def put_many(self, items: Iterable[tuple[str, InputState]]) -> None:
        for label, entry in items:
            self.put(label, entry)

    def flush(self) -> None:
        """Write changed chunks, then the header (so the header never names a chunk not yet written)."""
        self._rows.flush()

    def save_invalid(self, invalid: Mapping[str, str], refused: Mapping[str, Refusal] | None = None) -> None:
        """Why inputs never became a prediction, so the resumed task can report it (chunked too);
        ``refused`` ones keep what a retry needs to leave them alone."""
        refused = refused or {}

        def row(label: str, reason: str) -> list[Any]:
            known = refused.get(label)
            return (
                [label, reason] if known is None else [label, reason, known.fingerprint, known.clear_number]
            )

        rows = ChunkedList(self.store, INVALID_KEY)
        rows.reset(row(label, reason) for label, reason in invalid.items())
        rows.flush()

    def load_invalid(self) -> dict[str, str]:
        return {label: reason for label, (reason, _) in self._invalid_rows().items()}

    def load_refused(self) -> dict[str, Refusal]:
        """The inputs an earlier try recorded as refused for what they are."""
        return {label: refusal for label, (_, refusal) in self._invalid_rows().items() if refusal is not None}

    def _invalid_rows(self) -> dict[str, tuple[str, Refusal | None]]:
        legacy = read_value(self.store, INVALID_KEY)
        if isinstance(legacy, Mapping) and "chunks" not in legacy:  # one plain object, as written before
            return {str(k): (str(v), None) for k, v in legacy.items()}
        rows = ChunkedList(self.store, INVALID_KEY).load()
        invalid: dict[str, tuple[str, Refusal | None]] = {}
        for row in rows.items:
            if isinstance(row, list) and len(row) == 2:
                invalid[str(row[0])] = (str(row[1]), None)
            elif isinstance(row, list) and len(row) == 4 and isinstance(row[3], int):
                invalid[str(row[0])] = (str(row[1]), Refusal(str(row[1]), str(row[2]), row[3]))
            else:
                raise RecordError(f"batch state {INVALID_KEY!r} has a malformed row: {row!r}")
        return invalid

    def save_inputs(self, labels: Iterable[str]) -> None:
        """The labels this try listed, in input order: the resume collects exactly these instead of
        listing the source a second time (a folder may change meanwhile; a listing costs requests)."""
        rows = ChunkedList(self.store, INPUTS_KEY)
        rows.reset(labels)
        rows.flush()

    def load_inputs(self) -> list[str] | None:
        """The labels the submitting try listed, or ``None`` if it stored none (an earlier version)."""
        if read_value(self.store, INPUTS_KEY) is None:
            return None
        return [str(label) for label in ChunkedList(self.store, INPUTS_KEY).load().items]

    def save_left(self, left: Mapping[str, str]) -> None:
        """The inputs this try left unsubmitted because of the budget, with the reason."""
        rows = ChunkedList(self.store, LEFT_KEY)
        rows.reset([label, reason] for label, reason in left.items())
        rows.flush()

    def load_left(self) -> dict[str, str]:
        rows = ChunkedList(self.store, LEFT_KEY).load()
        left: dict[str, str] = {}
        for row in rows.items:
            if not (isinstance(row, list) and len(row) == 2):
                raise RecordError(f"batch state {LEFT_KEY!r} has a malformed row: {row!r}")
            left[str(row[0])] = str(row[1])
        return left

    def save_schema(self, schema: Mapping[str, Any]) -> None:
        """The schema this try read and how it compares with the last night's (``_drift``)."""
        write_value(self.store, SCHEMA_KEY, dict(schema))

    def load_schema(self) -> Any:
        """What ``save_schema`` wrote, or ``None`` (a try of an earlier version wrote nothing)."""
        return read_value(self.store, SCHEMA_KEY)

    def carry_over(self, from_clear: int, to_clear: int) -> int:
        """Make the records of clear ``from_clear`` this clear's (a Clear after a budget stop goes
        on with the night); returns how many. Written before anything is decided from them."""
        moved = 0
        for label, entry in list(self.entries.items()):
            if entry.record.clear_number == from_clear:
                self.put(label, replace(entry, record=replace(entry.record, clear_number=to_clear)))
                moved += 1
        self.flush()
        return moved

    @property
    def chunk_count(self) -> int:
        return self._rows.chunk_count
