"""The journey's dashboard row, written to the store (a local activity: the journey runs it after
handling what it received, when what its row is built from changed)."""

from __future__ import annotations

from temporalio import activity

from activities.store import Ledger
from csrunner.domain.read_model import AccountRowWrite


class AccountRowActivities:
    def __init__(self, store: Ledger):
        self.store = store

    @activity.defn(name="publish_account_row")
    def publish(self, w: AccountRowWrite) -> None:
        """Synchronous (the worker's thread pool): a store write must not hold up workflow tasks."""
        self.store.put_account_row(w)
