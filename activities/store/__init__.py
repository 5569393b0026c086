"""The store every worker host shares: the sent ledger (activities/store/ledger.py) and the
accounts' dashboard rows (account_rows.py). SQLite in DATA_DIR by default (one host); PostgreSQL
when DATABASE_URL is set (any number of hosts). Tasks live in their workflow's state (Temporal)
and outbox files are named by idempotency key, so this is the only store the product keeps."""

from __future__ import annotations

import os
import socket

from activities.store.ledger import Attempt, Ledger, StoreError
from activities.store.postgres import PostgresLedger
from activities.store.sqlite import SqliteLedger
from csrunner.config.settings import Settings

__all__ = ["Attempt", "Ledger", "PostgresLedger", "SqliteLedger", "StoreError", "open_ledger"]


def worker_identity() -> str:
    """pid@host, as Temporal names workers: which host made an attempt."""
    return f"{os.getpid()}@{socket.gethostname()}"


def open_ledger(settings: Settings) -> Ledger:
    if settings.database_url:
        return PostgresLedger(settings.database_url, worker_identity())
    return SqliteLedger(settings.data_dir / "sent-ledger.sqlite3", worker_identity())
