"""The embedded ledger: one SQLite file in DATA_DIR, shared by the workers of one host."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from activities.store.ledger import IN_FLIGHT_SECONDS, Ledger
from activities.store.migrations import VERSION_TABLE, still_to_apply

_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


class SqliteLedger(Ledger):
    def __init__(self, path: Path, worker: str = "", in_flight_seconds: float = IN_FLIGHT_SECONDS):
        super().__init__(worker, in_flight_seconds)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # survives a process crash; fsync per checkpoint
        self._lock = threading.Lock()
        self._migrate()

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[tuple[Any, ...]], int]:
        sql = sql.replace("%s", "?").format(now=_NOW, cutoff="strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?)")
        with self._lock:
            cur = self._db.execute(sql, params)
            return cur.fetchall(), cur.rowcount

    def _cutoff(self) -> str:
        return f"-{self.in_flight_seconds:g} seconds"

    def _migrate(self) -> None:
        """BEGIN IMMEDIATE: two processes opening an old file migrate it once."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(VERSION_TABLE)
                version = db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
                for m in still_to_apply(version):
                    for statement in m.sqlite:
                        db.execute(statement)
                    db.execute("INSERT INTO schema_version (version) VALUES (?)", (m.version,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()
