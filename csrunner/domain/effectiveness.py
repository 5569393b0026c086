"""Play effectiveness with holdouts: which accounts a play holds out of its customer emails (a
stable hash of account id + playbook id, so the same account is held out of the same play every
time, on every worker) and, per play, how often the band improved within 30 days of the start,
with and without the emails. Pure: no clock, no randomness."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Optional

from pydantic import BaseModel, Field

from csrunner.domain.snapshots import AccountSnapshot, band_at

WINDOW_DAYS = 30
_BUCKETS = 10_000


def held_out(account_id: str, playbook: str, percent: float) -> bool:
    """Whether this account is in the play's holdout (`percent` of accounts, 0-50)."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"{playbook}\x00{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % _BUCKETS < percent * _BUCKETS / 100


class Arm(BaseModel):
    """One side of a play's comparison: runs measured (30 days over) and how many improved."""

    runs: int = 0
    measured: int = 0
    improved: int = 0

    @property
    def improved_pct(self) -> Optional[float]:
        return round(100 * self.improved / self.measured, 1) if self.measured else None


class PlayEffect(BaseModel):
    playbook: str
    runs: int = 0
    completed: int = 0
    ended: int = 0
    emailed: Arm = Field(default_factory=Arm)
    held_out: Arm = Field(default_factory=Arm)

    @property
    def completion_pct(self) -> Optional[float]:
        return round(100 * self.completed / self.ended, 1) if self.ended else None


def improved(a: AccountSnapshot, start: datetime, ranks: dict[str, int]) -> Optional[bool]:
    """Whether the band rose above the one at `start` within 30 days; None without a band then."""
    before = band_at(a, start)
    if before not in ranks:
        return None
    end = start + timedelta(days=WINDOW_DAYS)
    return any(start < b.at <= end and ranks.get(b.band, 0) > ranks[before] for b in a.bands)


def play_effects(accounts: list[AccountSnapshot], now: datetime, ranks: dict[str, int]) -> list[PlayEffect]:
    """Per playbook: runs, completion (of runs that ended) and improvement, split by holdout.
    A run counts as measured once its 30-day window is over and the account had a band at its start."""
    effects: dict[str, PlayEffect] = {}
    for a in accounts:
        for p in a.plays:
            e = effects.get(p.playbook) or effects.setdefault(p.playbook, PlayEffect(playbook=p.playbook))
            e.runs += 1
            e.ended += p.status != "running"
            e.completed += p.status == "completed"
            arm = e.held_out if p.held_out else e.emailed
            arm.runs += 1
            if p.started_at + timedelta(days=WINDOW_DAYS) <= now:
                up = improved(a, p.started_at, ranks)
                if up is not None:
                    arm.measured += 1
                    arm.improved += up
    return sorted(effects.values(), key=lambda e: e.playbook)
