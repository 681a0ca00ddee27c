"""Where files and predictions live: in memory, or in a SQLite file so that a restart keeps them.

Both stores are used from the event loop thread only, so they need no locks; SQLite calls are
short single-row statements.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .records import FeedbackRecord, FileRecord, PredictionRecord


class Store(Protocol):
    """What the routes need from state, whatever keeps it."""

    def add_file(self, record: FileRecord, content: bytes) -> None: ...
    def get_file(self, file_id: str) -> FileRecord | None: ...
    def file_content(self, file_id: str) -> bytes | None: ...
    def file_by_md5(self, md5: str) -> FileRecord | None: ...
    def list_files(self, skip: int, limit: int) -> list[FileRecord]: ...
    def add_prediction(self, record: PredictionRecord) -> None: ...
    def get_prediction(self, prediction_id: str) -> PredictionRecord | None: ...
    def prediction_by_key(self, key: str) -> PredictionRecord | None: ...
    def list_predictions(self, skip: int, limit: int) -> list[PredictionRecord]: ...
    def finish_unfinished(self, at: float) -> int: ...
    def add_feedback(self, record: FeedbackRecord) -> None: ...
    def feedback_for(self, request_id: str, offset: int, limit: int) -> list[FeedbackRecord]: ...
    def feedback_by_key(self, key: str) -> FeedbackRecord | None: ...
    def clear(self) -> None: ...
    def close(self) -> None: ...


class MemoryStore:
    """Dicts plus insertion order; lists are served newest first."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._files: dict[str, FileRecord] = {}
        self._contents: dict[str, bytes] = {}
        self._by_md5: dict[str, str] = {}
        self._predictions: dict[str, PredictionRecord] = {}
        self._by_key: dict[str, str] = {}
        self._feedback: dict[str, list[FeedbackRecord]] = {}
        self._feedback_by_key: dict[str, FeedbackRecord] = {}

    def close(self) -> None:
        return None

    def add_file(self, record: FileRecord, content: bytes) -> None:
        self._files[record.id] = record
        self._contents[record.id] = content
        self._by_md5[record.md5] = record.id

    def get_file(self, file_id: str) -> FileRecord | None:
        return self._files.get(file_id)

    def file_content(self, file_id: str) -> bytes | None:
        return self._contents.get(file_id)

    def file_by_md5(self, md5: str) -> FileRecord | None:
        file_id = self._by_md5.get(md5)
        return self._files.get(file_id) if file_id else None

    def list_files(self, skip: int, limit: int) -> list[FileRecord]:
        return _newest_first(list(self._files.values()), skip, limit)

    def add_prediction(self, record: PredictionRecord) -> None:
        self._predictions[record.id] = record
        if record.idempotency_key:
            self._by_key[record.idempotency_key] = record.id

    def get_prediction(self, prediction_id: str) -> PredictionRecord | None:
        return self._predictions.get(prediction_id)

    def prediction_by_key(self, key: str) -> PredictionRecord | None:
        prediction_id = self._by_key.get(key)
        return self._predictions.get(prediction_id) if prediction_id else None

    def list_predictions(self, skip: int, limit: int) -> list[PredictionRecord]:
        return _newest_first(list(self._predictions.values()), skip, limit)

    def finish_unfinished(self, at: float) -> int:
        """Every prediction still running at ``at`` finishes then instead; returns how many."""
        moved = 0
        for record in self._predictions.values():
            if record.ready_at > at:
                record.ready_at = at
                record.paused_until = min(record.paused_until, at)
                moved += 1
        return moved

    def add_feedback(self, record: FeedbackRecord) -> None:
        self._feedback.setdefault(record.request_id, []).append(record)
        if record.idempotency_key:
            self._feedback_by_key[record.idempotency_key] = record

    def feedback_for(self, request_id: str, offset: int, limit: int) -> list[FeedbackRecord]:
        """Oldest first: the order in which corrections were made."""
        return self._feedback.get(request_id, [])[offset : offset + limit]

    def feedback_by_key(self, key: str) -> FeedbackRecord | None:
        return self._feedback_by_key.get(key)


_T = TypeVar("_T")


def _newest_first(items: list[_T], skip: int, limit: int) -> list[_T]:
    end = len(items) - skip
    start = max(end - limit, 0)
    return list(reversed(items[start:end])) if end > 0 else []


_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL, filename TEXT NOT NULL, bytes INTEGER NOT NULL, purpose TEXT NOT NULL,
    created_at REAL NOT NULL, md5 TEXT NOT NULL, content BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS files_md5 ON files (md5);
CREATE TABLE IF NOT EXISTS predictions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL, media TEXT NOT NULL, domain TEXT NOT NULL, created_at REAL NOT NULL,
    ready_at REAL NOT NULL, batch INTEGER NOT NULL, response TEXT, message TEXT, usage TEXT NOT NULL,
    idempotency_key TEXT NOT NULL, fingerprint TEXT NOT NULL,
    paused_until REAL NOT NULL DEFAULT 0, callback_url TEXT
);
CREATE INDEX IF NOT EXISTS predictions_key ON predictions (idempotency_key);
CREATE TABLE IF NOT EXISTS feedback (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL, request_id TEXT NOT NULL, created_at REAL NOT NULL,
    response TEXT, notes TEXT, idempotency_key TEXT NOT NULL, fingerprint TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_request ON feedback (request_id);
CREATE INDEX IF NOT EXISTS feedback_key ON feedback (idempotency_key);
"""

_FILE_COLUMNS = "id, filename, bytes, purpose, created_at, md5"
_PREDICTION_COLUMNS = (
    "id, media, domain, created_at, ready_at, batch, response, message, usage, idempotency_key, fingerprint, "
    "paused_until, callback_url, request"
)
_FEEDBACK_COLUMNS = "id, request_id, created_at, response, notes, idempotency_key, fingerprint"
# Columns added after the first release: a state file written before them gets them on open.
_ADDED_COLUMNS = {
    "paused_until": "REAL NOT NULL DEFAULT 0",
    "callback_url": "TEXT",
    "request": "TEXT NOT NULL DEFAULT '{}'",
}


class SqliteStore:
    """One SQLite file; every write commits, so a killed server loses nothing it answered."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        present = {row[1] for row in self._db.execute("PRAGMA table_info(predictions)")}
        for name, kind in _ADDED_COLUMNS.items():
            if name not in present:
                self._db.execute(f"ALTER TABLE predictions ADD COLUMN {name} {kind}")

    def close(self) -> None:
        self._db.close()

    def clear(self) -> None:
        self._db.execute("DELETE FROM files")
        self._db.execute("DELETE FROM predictions")
        self._db.execute("DELETE FROM feedback")

    def add_file(self, record: FileRecord, content: bytes) -> None:
        self._db.execute(
            f"INSERT INTO files ({_FILE_COLUMNS}, content) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.filename,
                record.bytes,
                record.purpose,
                record.created_at,
                record.md5,
                content,
            ),
        )

    def get_file(self, file_id: str) -> FileRecord | None:
        row = self._db.execute(f"SELECT {_FILE_COLUMNS} FROM files WHERE id = ?", (file_id,)).fetchone()
        return FileRecord(*row) if row else None

    def file_content(self, file_id: str) -> bytes | None:
        row = self._db.execute("SELECT content FROM files WHERE id = ?", (file_id,)).fetchone()
        return bytes(row[0]) if row else None

    def file_by_md5(self, md5: str) -> FileRecord | None:
        row = self._db.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE md5 = ? ORDER BY seq DESC LIMIT 1", (md5,)
        ).fetchone()
        return FileRecord(*row) if row else None

    def list_files(self, skip: int, limit: int) -> list[FileRecord]:
        rows = self._db.execute(
            f"SELECT {_FILE_COLUMNS} FROM files ORDER BY seq DESC LIMIT ? OFFSET ?", (limit, skip)
        ).fetchall()
        return [FileRecord(*row) for row in rows]

    def add_prediction(self, record: PredictionRecord) -> None:
        self._db.execute(
            f"INSERT INTO predictions ({_PREDICTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.media,
                record.domain,
                record.created_at,
                record.ready_at,
                int(record.batch),
                None if record.response is None else json.dumps(record.response),
                record.message,
                json.dumps(record.usage),
                record.idempotency_key,
                record.fingerprint,
                record.paused_until,
                record.callback_url,
                json.dumps(record.request),
            ),
        )

    def get_prediction(self, prediction_id: str) -> PredictionRecord | None:
        row = self._db.execute(
            f"SELECT {_PREDICTION_COLUMNS} FROM predictions WHERE id = ?", (prediction_id,)
        ).fetchone()
        return _prediction(row) if row else None

    def prediction_by_key(self, key: str) -> PredictionRecord | None:
        row = self._db.execute(
            f"SELECT {_PREDICTION_COLUMNS} FROM predictions WHERE idempotency_key = ? ORDER BY seq DESC LIMIT 1",
            (key,),
        ).fetchone()
        return _prediction(row) if row else None

    def list_predictions(self, skip: int, limit: int) -> list[PredictionRecord]:
        rows = self._db.execute(
            f"SELECT {_PREDICTION_COLUMNS} FROM predictions ORDER BY seq DESC LIMIT ? OFFSET ?", (limit, skip)
        ).fetchall()
        return [_prediction(row) for row in rows]

    def finish_unfinished(self, at: float) -> int:
        cursor = self._db.execute(
            "UPDATE predictions SET ready_at = ?, paused_until = MIN(paused_until, ?) WHERE ready_at > ?",
            (at, at, at),
        )
        return int(cursor.rowcount)

    def add_feedback(self, record: FeedbackRecord) -> None:
        self._db.execute(
            f"INSERT INTO feedback ({_FEEDBACK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.request_id,
                record.created_at,
                None if record.response is None else json.dumps(record.response),
                record.notes,
                record.idempotency_key,
                record.fingerprint,
            ),
        )

    def feedback_for(self, request_id: str, offset: int, limit: int) -> list[FeedbackRecord]:
        rows = self._db.execute(
            f"SELECT {_FEEDBACK_COLUMNS} FROM feedback WHERE request_id = ? ORDER BY seq LIMIT ? OFFSET ?",
            (request_id, limit, offset),
        ).fetchall()
        return [_feedback(row) for row in rows]

    def feedback_by_key(self, key: str) -> FeedbackRecord | None:
        row = self._db.execute(
            f"SELECT {_FEEDBACK_COLUMNS} FROM feedback WHERE idempotency_key = ? ORDER BY seq DESC LIMIT 1",
            (key,),
        ).fetchone()
        return _feedback(row) if row else None


def _feedback(row: tuple[Any, ...]) -> FeedbackRecord:
    fid, request_id, created, response, notes, key, fingerprint = row
    return FeedbackRecord(
        id=fid,
        request_id=request_id,
        created_at=created,
        response=None if response is None else json.loads(response),
        notes=notes,
        idempotency_key=key,
        fingerprint=fingerprint,
    )


def _prediction(row: tuple[Any, ...]) -> PredictionRecord:
    (
        pid,
        media,
        domain,
        created,
        ready,
        batch,
        response,
        message,
        usage,
        key,
        fingerprint,
        paused,
        callback,
        request,
    ) = row
    return PredictionRecord(
        id=pid,
        media=media,
        domain=domain,
        created_at=created,
        ready_at=ready,
        batch=bool(batch),
        response=None if response is None else json.loads(response),
        message=message,
        usage=json.loads(usage),
        idempotency_key=key,
        fingerprint=fingerprint,
        paused_until=paused,
        callback_url=callback,
        request=json.loads(request or "{}"),
    )


def open_store(path: Path | None) -> Store:
    """SQLite when a path is given, memory otherwise."""
    return SqliteStore(path) if path else MemoryStore()
