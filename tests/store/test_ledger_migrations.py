"""The ledger's schema is the product's: created on a fresh SQLite file or PostgreSQL database,
migrated from the previous release's SQLite file with its rows kept, and refused when newer."""

from __future__ import annotations

import sqlite3

import pytest

from activities.store import PostgresLedger, SqliteLedger, StoreError
from activities.store.migrations import LATEST
from csrunner.config.database import check_database_url


def _versions_sqlite(path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [v for (v,) in db.execute("SELECT version FROM schema_version ORDER BY version")]


def test_fresh_sqlite_is_created_at_the_latest_version(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.sqlite3", "w1")
    assert ledger.begin("k", "sendgrid", "to a: hi").state == "new"
    ledger.close()
    assert _versions_sqlite(tmp_path / "l.sqlite3") == list(range(1, LATEST + 1))
    again = SqliteLedger(tmp_path / "l.sqlite3", "w2")  # opening it again changes nothing
    assert again.row("k")["state"] == "attempt" and again.row("k")["worker"] == "w1"
    assert _versions_sqlite(tmp_path / "l.sqlite3") == list(range(1, LATEST + 1))


def test_the_previous_release_ledger_keeps_its_rows(tmp_path):
    path = tmp_path / "sent-ledger.sqlite3"
    with sqlite3.connect(path) as db:  # exactly what the previous release created and wrote
        db.execute(
            "CREATE TABLE IF NOT EXISTS sent (key TEXT PRIMARY KEY, channel TEXT,"
            " result TEXT, at TEXT DEFAULT CURRENT_TIMESTAMP)"
        )
        db.execute(
            "INSERT OR REPLACE INTO sent (key, channel, result) VALUES (?, ?, ?)",
            ("wf/day0-welcome", "sendgrid", '{"to": "ana@acme.example", "message_id": "m1"}'),
        )
    ledger = SqliteLedger(path, "w1")
    assert ledger.get("wf/day0-welcome") == {"to": "ana@acme.example", "message_id": "m1"}
    found = ledger.begin("wf/day0-welcome", "sendgrid", "to ana")  # a retry after the upgrade
    assert found.state == "sent" and found.result == {"to": "ana@acme.example", "message_id": "m1"}
    assert _versions_sqlite(path) == list(range(1, LATEST + 1))


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "l.sqlite3"
    SqliteLedger(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (LATEST + 1,))
    with pytest.raises(StoreError, match=f"version {LATEST + 1}, newer than this release's {LATEST}"):
        SqliteLedger(path)


def test_fresh_postgres_is_created_and_a_second_host_finds_it_migrated(database_url):
    import psycopg

    first, second = PostgresLedger(database_url, "host-a"), PostgresLedger(database_url, "host-b")
    try:
        first.put("k", "slack", {"ts": "1"})
        assert second.get("k") == {"ts": "1"}
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert [v for (v,) in rows] == list(range(1, LATEST + 1))
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", None),
        ("postgresql://app:secret@db:5432/csr", None),
        ("postgres://app@db/csr?sslmode=require", None),
        ("mysql://app@db/csr", "must be a PostgreSQL URL"),
        ("db:5432/csr", "must be a PostgreSQL URL"),
        ("postgresql://app@db:port/csr", "the port is not a number"),
        ("postgresql://app@db:5432", "no database name"),
        ("postgresql:///csr", "no host"),
        ("postgresql://app@db/csr?nonsense=1", "invalid URI query parameter"),
    ],
)
def test_database_url_is_checked_in_one_line_without_the_password(url, problem):
    found = check_database_url(url)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found and "secret" not in found and "\n" not in found


def test_an_unreachable_database_is_one_line(postgres_server):
    url = postgres_server.url.replace(f":{postgres_server.port}/", ":1/")
    with pytest.raises(StoreError, match=r"^DATABASE_URL: cannot use the ledger at 127.0.0.1:1/postgres"):
        PostgresLedger(url, connect_timeout=2)
