"""Typed snapshots of accounts and pending work: what the report reads of journeys and runs
(built from their views by csrunner/domain/read_model.py, and published in their memos). Pure
pydantic."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Optional

from pydantic import BaseModel, Field


class BandAt(BaseModel):
    at: datetime
    band: str


class NpsAt(BaseModel):
    at: datetime
    score: int = Field(ge=0, le=10)


class PlaySnapshot(BaseModel):
    playbook: str
    workflow_id: str = ""
    started_at: datetime
    status: Literal["running", "completed", "preempted", "failed"]
    #: None: started by a release that did not record it (read_model.with_holdouts settles it)
    held_out: Optional[bool] = None


class AccountSnapshot(BaseModel):
    """What the report needs of one account's journey (read from its view by an adapter)."""

    account_id: str
    account_name: str = ""
    csm_id: str = ""
    phase: str
    closed_at: Optional[datetime] = None
    score: Optional[float] = None
    band: str = ""
    bands: list[BandAt] = []  # every band change, oldest first
    nps: list[NpsAt] = []
    plays: list[PlaySnapshot] = []
    #: when the day-7 task recorded first value (None: not recorded yet, or recorded "no")
    first_value_at: Optional[datetime] = None
    escalations: list[datetime] = []  # journey alerts
    expansion_signal: str = ""
    renewal_at: Optional[datetime] = None  # the `contract_end` account fact
    churned_at: Optional[datetime] = None  # the `churned_on` account fact


class PendingSnapshot(BaseModel):
    account_id: str
    csm_id: str
    workflow_id: str
    step_id: str
    kind: Literal["approval", "task"]
    assignee: str
    due_at: Optional[datetime] = None


def band_at(a: AccountSnapshot, when: datetime) -> str:
    """The account's band at `when` ('' before its first score)."""
    band = ""
    for b in a.bands:
        if b.at > when:
            break
        band = b.band
    return band
