"""The ledger's schema, created and migrated by the product: ordered steps, one `schema_version`
row per step applied. Each step has its SQLite and its PostgreSQL text; a step is never edited
once released (add a new one), so every host migrates an old store the same way."""

from __future__ import annotations

from typing import NamedTuple

from activities.store.ledger import StoreError


class Migration(NamedTuple):
    version: int
    why: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


MIGRATIONS = (
    Migration(
        1,
        "the previous release's table (kept as it was: its rows are sends that happened)",
        (
            "CREATE TABLE IF NOT EXISTS sent (key TEXT PRIMARY KEY, channel TEXT,"
            " result TEXT, at TEXT DEFAULT CURRENT_TIMESTAMP)",
        ),
        (
            "CREATE TABLE IF NOT EXISTS sent (key TEXT PRIMARY KEY, channel TEXT,"
            " result TEXT, at TIMESTAMPTZ DEFAULT now())",
        ),
    ),
    Migration(
        2,
        "attempts before outcomes: a row is written before the provider is called",
        (
            "ALTER TABLE sent ADD COLUMN state TEXT NOT NULL DEFAULT 'sent'",
            "ALTER TABLE sent ADD COLUMN summary TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE sent ADD COLUMN worker TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE sent ADD COLUMN attempted_at TEXT",
        ),
        (
            "ALTER TABLE sent ADD COLUMN state TEXT NOT NULL DEFAULT 'sent',"
            " ADD COLUMN summary TEXT NOT NULL DEFAULT '', ADD COLUMN worker TEXT NOT NULL DEFAULT '',"
            " ADD COLUMN attempted_at TIMESTAMPTZ",
        ),
    ),
    Migration(
        3,
        "the dashboard's row of each account, written by its journey (activities/store/account_rows.py)",
        (
            "CREATE TABLE IF NOT EXISTS account_rows (account_id TEXT PRIMARY KEY, chain TEXT NOT NULL,"
            " seq INTEGER NOT NULL, csm_id TEXT NOT NULL DEFAULT '', snapshot TEXT NOT NULL, at TEXT)",
        ),
        (
            "CREATE TABLE IF NOT EXISTS account_rows (account_id TEXT PRIMARY KEY, chain TEXT NOT NULL,"
            " seq BIGINT NOT NULL, csm_id TEXT NOT NULL DEFAULT '', snapshot TEXT NOT NULL, at TIMESTAMPTZ)",
        ),
    ),
)
LATEST = MIGRATIONS[-1].version
VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"


def still_to_apply(version: int) -> list[Migration]:
    """The steps a store at schema `version` still needs; a store newer than this release (a
    rollback after an upgrade) is refused rather than written with the old shape."""
    if version > LATEST:
        raise StoreError(f"the ledger's schema is version {version}, newer than this release's {LATEST}")
    return [m for m in MIGRATIONS if m.version > version]
