"""The dashboard's account rows in the store: a journey's newer row replaces the stored one, an
older or repeated write (a retried local activity) never brings it back, and a journey started
again for the account (another chain) replaces it. The same SQL on SQLite and on PostgreSQL."""

from __future__ import annotations

from activities.store import Ledger, PostgresLedger, SqliteLedger
from csrunner.domain.read_model import AccountRowWrite
from csrunner.domain.snapshots import AccountSnapshot


def _write(account: str, chain: str, seq: int, score: float, csm: str = "maria") -> AccountRowWrite:
    row = AccountSnapshot(
        account_id=account, account_name=account.title(), csm_id=csm, phase="adopting", score=score
    )
    return AccountRowWrite(account_id=account, chain=chain, seq=seq, row=row)


def _scores(store: Ledger) -> dict[str, float | None]:
    return {a: r.score for a, r in store.account_rows().items()}


def _check(store: Ledger) -> None:
    assert store.put_account_row(_write("acme", "run-1", 1, 70))
    assert store.put_account_row(_write("acme", "run-1", 3, 80))
    assert not store.put_account_row(_write("acme", "run-1", 2, 75))  # late: older than the stored
    assert not store.put_account_row(_write("acme", "run-1", 3, 80))  # a retry of the same write
    assert _scores(store) == {"acme": 80}
    assert store.put_account_row(_write("acme", "run-9", 1, 55))  # the journey started again
    assert store.put_account_row(_write("globex", "run-2", 1, 90, csm="luis"))
    assert _scores(store) == {"acme": 55, "globex": 90}
    assert store.account_rows()["globex"].csm_id == "luis"


def test_rows_on_sqlite(tmp_path):
    store = SqliteLedger(tmp_path / "store.sqlite3")
    _check(store)
    store.close()
    again = SqliteLedger(tmp_path / "store.sqlite3")  # durable: another process reads them
    assert _scores(again) == {"acme": 55, "globex": 90}
    again.close()


def test_rows_on_postgres(database_url):
    store = PostgresLedger(database_url)
    try:
        _check(store)
    finally:
        store.close()
