"""The answers of a study: SQLite in WAL mode, one row per (reader, trial), committed before the reply.

Each answer is its own transaction with ``synchronous=FULL``, so once the server has replied the answer
is on disk: killing the server (even with SIGKILL) loses nothing. ``UNIQUE(reader, trial)`` makes a
repeated answer (a double click, a resent form) a no-op: the first answer stands.

Connections are opened per call, so the store is safe to use from the server's request threads and
from ``report`` while the server runs.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from monai_synth.data.errors import DataError

__all__ = ["SCHEMA_VERSION", "AnswerStore"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    reader TEXT NOT NULL,
    trial TEXT NOT NULL,
    position INTEGER NOT NULL,
    answer TEXT NOT NULL,
    chosen_image TEXT,
    likert INTEGER,
    answered_at REAL NOT NULL,
    UNIQUE (reader, trial)
);
"""


class AnswerStore:
    """Answers of one study in an SQLite file.

    Args:
        path: the database file.
        create: make the file and its tables (study creation); otherwise the file must exist.

    Raises:
        DataError: a missing database, or one of another schema version.
    """

    def __init__(self, path: str | os.PathLike, create: bool = False) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise DataError("incomplete study folder: answers.sqlite is missing", self.path.parent)
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            if create:
                db.executescript(_SCHEMA)
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or row[0] != str(SCHEMA_VERSION):
            raise DataError(f"answer database schema {row[0] if row else None!r} is not version {SCHEMA_VERSION}",
                            self.path)

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=30000")
        except sqlite3.DatabaseError as err:
            raise DataError(f"cannot open the answer database ({err})", self.path) from None
        return db

    def add(self, reader: str, trial: str, position: int, answer: str, chosen_image: str | None = None,
            likert: int | None = None) -> bool:
        """Store one answer, durably, unless this reader already answered this trial.

        Returns:
            True when stored, False when the reader had already answered (the first answer stands).
        """
        with closing(self._connect()) as db:
            cursor = db.execute(
                "INSERT INTO answers (reader, trial, position, answer, chosen_image, likert, answered_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (reader, trial) DO NOTHING",
                (reader, trial, int(position), answer, chosen_image, likert, time.time()))
            return cursor.rowcount == 1

    def answered(self, reader: str) -> set[str]:
        """The trials a reader has answered."""
        with closing(self._connect()) as db:
            return {row[0] for row in db.execute("SELECT trial FROM answers WHERE reader = ?", (reader,))}

    def progress(self) -> dict[str, tuple[int, float | None]]:
        """Reader -> (answers given, time of the last one); readers without answers are absent."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT reader, COUNT(*), MAX(answered_at) FROM answers GROUP BY reader")
            return {reader: (int(count), last) for reader, count, last in rows}

    def all_answers(self) -> list[dict[str, Any]]:
        """Every answer as a dict (reader, trial, position, answer, chosen_image, likert, answered_at)."""
        with closing(self._connect()) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM answers ORDER BY reader, position").fetchall()
            return [dict(row) for row in rows]

    def count(self) -> int:
        """How many answers are stored."""
        with closing(self._connect()) as db:
            return int(db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])
