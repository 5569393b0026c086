"""The dashboard's row of each account in the store: written by its journey (the local activity
`publish_account_row`), read by `csr report` and the inbox dashboard. A journey used to upsert it
in its memo: a visibility write per update, which cost the server more than the update itself."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Optional

from csrunner.domain.read_model import AccountRowWrite
from csrunner.domain.snapshots import AccountSnapshot


class AccountRows:
    """Rows of `account_rows`: account_id, chain, seq, csm_id, snapshot (JSON), at."""

    @abstractmethod
    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[tuple[Any, ...]], int]: ...

    def put_account_row(self, w: AccountRowWrite) -> bool:
        """Store the row unless the stored one is newer (same chain, higher seq): a retried or late
        write never brings an account back to an older row. True when it was stored."""
        _, n = self._exec(
            "INSERT INTO account_rows (account_id, chain, seq, csm_id, snapshot, at)"
            " VALUES (%s, %s, %s, %s, %s, {now}) ON CONFLICT (account_id) DO UPDATE SET"
            " chain = excluded.chain, seq = excluded.seq, csm_id = excluded.csm_id,"
            " snapshot = excluded.snapshot, at = excluded.at"
            " WHERE account_rows.chain <> excluded.chain OR account_rows.seq < excluded.seq",
            (w.account_id, w.chain, w.seq, w.row.csm_id, w.row.model_dump_json()),
        )
        return n == 1

    def account_rows(self, csm_ids: Optional[set[str]] = None) -> dict[str, AccountSnapshot]:
        """account id → its row; only those of `csm_ids` when given."""
        rows, _ = self._exec("SELECT account_id, csm_id, snapshot FROM account_rows")
        return {
            a: AccountSnapshot.model_validate_json(snap)
            for a, csm, snap in rows
            if csm_ids is None or csm in csm_ids
        }
