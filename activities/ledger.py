"""The sent ledger: which idempotency keys already went out, so a retried activity never sends
twice. SQLite in the data folder; every worker on one host shares it."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Optional


class SentLedger:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # survives a process crash; fsync per checkpoint
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sent (key TEXT PRIMARY KEY, channel TEXT,"
            " result TEXT, at TEXT DEFAULT CURRENT_TIMESTAMP)"
        )
        self._lock = threading.Lock()

    def get(self, key: str) -> Optional[dict[str, Any]]:
        with self._lock:
            row = self._db.execute("SELECT result FROM sent WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, channel: str, result: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO sent (key, channel, result) VALUES (?, ?, ?)",
                (key, channel, json.dumps(result, default=str)),
            )
