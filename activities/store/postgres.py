"""The shared ledger: PostgreSQL at DATABASE_URL, one for every worker host (psycopg 3, a small
connection pool; each statement commits on its own)."""

from __future__ import annotations

import atexit
from typing import Any

from psycopg import Error as PgError
from psycopg_pool import ConnectionPool, PoolTimeout

from activities.store.ledger import IN_FLIGHT_SECONDS, Ledger, StoreError
from activities.store.migrations import VERSION_TABLE, still_to_apply
from csrunner.config.database import check_database_url, where

#: pg_advisory_xact_lock key: hosts starting together migrate one after the other.
_MIGRATION_LOCK = 0x6C656467  # "ledg"


class PostgresLedger(Ledger):
    def __init__(
        self,
        url: str,
        worker: str = "",
        in_flight_seconds: float = IN_FLIGHT_SECONDS,
        pool_size: int = 4,
        connect_timeout: float = 10,
    ):
        super().__init__(worker, in_flight_seconds)
        problem = check_database_url(url)
        if problem:
            raise StoreError(problem)
        self._pool = ConnectionPool(
            url, min_size=1, max_size=pool_size, kwargs={"autocommit": True}, open=False, name="ledger"
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
            self._migrate()
        except (PoolTimeout, PgError) as e:
            self._pool.close()
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise StoreError(f"DATABASE_URL: cannot use the ledger at {where(url)}: {first}") from None
        atexit.register(self.close)  # the pool's threads stopped before the interpreter finalizes

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[tuple[Any, ...]], int]:
        sql = sql.format(now="now()", cutoff="now() - make_interval(secs => %s)")
        with self._pool.connection() as conn:
            cur = conn.execute(sql.encode(), params)
            return (cur.fetchall() if cur.description else []), cur.rowcount

    def _cutoff(self) -> float:
        return self.in_flight_seconds

    def _migrate(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(VERSION_TABLE)
            row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
            version = row[0] if row else 0
            for m in still_to_apply(version):
                for statement in m.postgres:
                    conn.execute(statement.encode())
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (m.version,))

    def close(self) -> None:
        atexit.unregister(self.close)
        self._pool.close()
