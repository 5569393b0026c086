"""The ledger's one interface: what went out under each idempotency key, and the attempts in
between. Every send writes its attempt before calling the provider and its outcome after, so a
retry can tell "sent", "failed: may send again" and "nobody knows" apart. The SQL is shared;
the backends (sqlite.py, postgres.py) run it and migrate their schema."""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal, Optional

from activities.store.account_rows import AccountRows

#: An attempt younger than this with no outcome is another worker's send still in flight (retry
#: later); older, its fate is unknown. Above the send activity's 15 s timeout (SendGrid's: 10 s).
IN_FLIGHT_SECONDS = 60.0


class StoreError(Exception):
    """The store cannot be used (bad URL, unreachable, a newer schema): one line for people."""


@dataclass(frozen=True)
class Attempt:
    """What `begin` found: `new` (this worker may send), `sent` (with the stored result),
    `in_flight` (another worker is sending now), `unknown` (an attempt whose fate nobody knows) or
    `wait` (the provider's rate limit said not before `wait` more seconds)."""

    state: Literal["new", "sent", "in_flight", "unknown", "wait"]
    result: Optional[dict[str, Any]] = None
    worker: str = ""
    wait: float = 0.0


class Ledger(AccountRows, ABC):
    """The store's backend (its SQL run by sqlite.py or postgres.py); also the accounts' dashboard
    rows (AccountRows). Rows of `sent`: key, channel, state (attempt, sent, failed, unknown),
    result (JSON), summary, worker, attempted_at, at (the outcome's time). SQL uses %s
    placeholders, {now} and {cutoff}."""

    def __init__(self, worker: str, in_flight_seconds: float = IN_FLIGHT_SECONDS):
        self.worker, self.in_flight_seconds = worker, in_flight_seconds

    @abstractmethod
    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[tuple[Any, ...]], int]:
        """Run one statement on its own (autocommit): its rows and its row count."""

    @abstractmethod
    def close(self) -> None: ...

    def get(self, key: str) -> Optional[dict[str, Any]]:
        """The result stored with a completed send, or None."""
        rows, _ = self._exec("SELECT result FROM sent WHERE key = %s AND state = 'sent'", (key,))
        return json.loads(rows[0][0]) if rows else None

    def put(self, key: str, channel: str, result: dict[str, Any]) -> None:
        """Record a completed send in one go (channels that may repeat: Slack, tasks, the outbox)."""
        self._exec(
            "INSERT INTO sent (key, channel, state, result, worker, at)"
            " VALUES (%s, %s, 'sent', %s, %s, {now})"
            " ON CONFLICT (key) DO UPDATE SET channel = excluded.channel, state = 'sent',"
            " result = excluded.result, worker = excluded.worker, at = excluded.at",
            (key, channel, _json(result), self.worker),
        )

    def begin(self, key: str, channel: str, summary: str) -> Attempt:
        """Claim the key before sending. Atomic: of two workers racing, one gets `new`."""
        _, inserted = self._exec(
            "INSERT INTO sent (key, channel, state, summary, worker, attempted_at, at)"
            " VALUES (%s, %s, 'attempt', %s, %s, {now}, NULL) ON CONFLICT (key) DO NOTHING",
            (key, channel, summary, self.worker),
        )
        if inserted == 1:
            return Attempt("new")
        wait = self._rate_limited_for(key)
        if wait > 0:  # the hint outlives the attempt that got it (a worker killed before its retry)
            return Attempt("wait", wait=wait)
        _, claimed = self._exec(  # a failure known not to have sent: this worker tries again
            "UPDATE sent SET state = 'attempt', summary = %s, worker = %s, attempted_at = {now},"
            " result = NULL WHERE key = %s AND state = 'failed'",
            (summary, self.worker, key),
        )
        if claimed == 1:
            return Attempt("new")
        rows, _ = self._exec(
            "SELECT state, result, worker, CASE WHEN attempted_at > {cutoff} THEN 1 ELSE 0 END"
            " FROM sent WHERE key = %s",
            (self._cutoff(), key),
        )
        state, result, worker, fresh = rows[0]
        if state == "sent":
            return Attempt("sent", json.loads(result), worker)
        if state == "failed" or (state == "attempt" and fresh):  # failed: claimed by someone just now
            return Attempt("in_flight", worker=worker)
        return Attempt("unknown", worker=worker)

    def finish(self, key: str, result: dict[str, Any]) -> None:
        """The provider accepted it."""
        self._exec(
            "UPDATE sent SET state = 'sent', result = %s, at = {now} WHERE key = %s", (_json(result), key)
        )

    def fail(self, key: str, why: str, retry_at: Optional[float] = None) -> None:
        """The provider refused it, or the request never left: a retry may send (not before
        `retry_at`, a Unix time, when the provider's rate limit said so)."""
        self._outcome(key, "failed", why, {"retry_at": retry_at} if retry_at else {})

    def lost(self, key: str, why: str) -> None:
        """The request left and no answer came back: nobody knows whether it was delivered."""
        self._outcome(key, "unknown", why)

    def row(self, key: str) -> Optional[dict[str, Any]]:
        """One row as a dict (for people and tests)."""
        rows, _ = self._exec(
            "SELECT key, channel, state, result, summary, worker FROM sent WHERE key = %s", (key,)
        )
        names = ("key", "channel", "state", "result", "summary", "worker")
        return dict(zip(names, rows[0], strict=True)) if rows else None

    def _outcome(self, key: str, state: str, why: str, extra: Optional[dict[str, Any]] = None) -> None:
        self._exec(
            "UPDATE sent SET state = %s, result = %s, at = {now} WHERE key = %s AND state = 'attempt'",
            (state, _json({"error": why[:500], **(extra or {})}), key),
        )

    def _rate_limited_for(self, key: str) -> float:
        """Seconds left before a failed send may be tried again (0: now)."""
        rows, _ = self._exec("SELECT result FROM sent WHERE key = %s AND state = 'failed'", (key,))
        retry_at = json.loads(rows[0][0] or "{}").get("retry_at") if rows else None
        return max(0.0, float(retry_at) - time.time()) if retry_at else 0.0

    @abstractmethod
    def _cutoff(self) -> Any:
        """The parameter {cutoff} compares attempted_at with: now minus in_flight_seconds."""


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, default=str)
