"""The SQLite store: a state file written before ``paused_until``/``callback_url`` still opens."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from airflow_provider_vlm.devserver.records import PredictionRecord
from airflow_provider_vlm.devserver.store import SqliteStore

OLD_SCHEMA = """
CREATE TABLE predictions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL, media TEXT NOT NULL, domain TEXT NOT NULL, created_at REAL NOT NULL,
    ready_at REAL NOT NULL, batch INTEGER NOT NULL, response TEXT, message TEXT, usage TEXT NOT NULL,
    idempotency_key TEXT NOT NULL, fingerprint TEXT NOT NULL
);
INSERT INTO predictions (id, media, domain, created_at, ready_at, batch, response, message, usage,
    idempotency_key, fingerprint) VALUES ('old', 'document', 'document.invoice', 1, 2, 1, '{}', NULL, '{}', '', '');
"""


def test_an_older_state_file_gets_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
    store = SqliteStore(path)
    try:
        old = store.get_prediction("old")
        assert old is not None and old.paused_until == 0 and old.callback_url is None
        assert old.status_at(1.5) == "running"
        store.add_prediction(
            PredictionRecord(
                id="new",
                media="document",
                domain="document.invoice",
                created_at=10,
                ready_at=15,
                batch=True,
                paused_until=12,
                callback_url="http://127.0.0.1:9/hook",
            )
        )
        new = store.get_prediction("new")
        assert new is not None and new.callback_url == "http://127.0.0.1:9/hook"
        assert [new.status_at(t) for t in (11, 12.5, 15)] == ["paused", "enqueued", "completed"]
    finally:
        store.close()
