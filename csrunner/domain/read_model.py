"""The dashboard's read model: the row each journey and playbook run publishes, so `csr report` and
the inbox dashboard read a whole portfolio without one query (and often one replay) per run.
Playbook runs publish theirs in their memo (`MEMO_KEY`); journeys started by this release write
theirs to the product's store (`AccountRowWrite`, by a local activity: a memo upsert is a
visibility write, which cost the dev server more than the score update itself), those before it
in their memo. The adapters below are the only code that knows the views' shapes;
services/report.py uses them too for runs recorded before any row."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Optional

from pydantic import BaseModel

from csrunner.domain.definitions import PlaybookDefinition
from csrunner.domain.effectiveness import held_out
from csrunner.domain.journey_messages import JourneyView
from csrunner.domain.messages import RunView
from csrunner.domain.snapshots import AccountSnapshot, BandAt, NpsAt, PendingSnapshot, PlaySnapshot

MEMO_KEY = "dashboard"
#: The patch under which journeys and runs publish it (runs recorded before it replay unchanged).
PATCH = "dashboard-memo"
FIRST_VALUE = "first_value_reached"  # the run fact an onboarding task records
CONTRACT_END = "contract_end"  # the account fact renewals are counted from
CHURNED_ON = "churned_on"  # the account fact churn is counted from


class AccountRowWrite(BaseModel):
    """A journey's row for the store. `chain` (the journey's first run id) and `seq` (counted
    across continue-as-new) order the writes: a row replaces the stored one when it is newer in
    the same chain or from another chain (the account's journey started again)."""

    account_id: str
    chain: str
    seq: int
    row: AccountSnapshot


class RunRow(BaseModel):
    """A playbook run as the dashboard reads it: its open work and, for onboarding, first value."""

    workflow_id: str
    account_id: str
    csm_id: str = ""
    playbook: str
    pending: list[PendingSnapshot] = []
    first_value_at: Optional[datetime] = None


def _band_of(text: str) -> str:
    """The band of a score line in the journey's timeline: "score 72 (at_risk, was healthy)"."""
    if not text.startswith("score ") or " (" not in text:
        return ""
    inner = text.split(" (", 1)[1]
    return inner.split(",", 1)[0].split(")", 1)[0]


def account_snapshot(v: JourneyView) -> AccountSnapshot:
    """A journey's view as the report reads it (first value comes from the onboarding run)."""
    bands = [BandAt(at=e.at, band=b) for e in v.timeline if e.kind == "score" and (b := _band_of(e.text))]
    if v.band and (not bands or bands[-1].band != v.band) and v.last_update_at:
        # the change fell off the timeline: the band has held since before its oldest event
        # (a time that does not move with each update, so a quiet update leaves the row as it is)
        since = max([v.timeline[0].at if v.timeline else v.last_update_at, *(b.at for b in bands[-1:])])
        bands.append(BandAt(at=since, band=v.band))
    return AccountSnapshot(
        account_id=v.account_id,
        account_name=v.account_name,
        csm_id=v.csm_id,
        phase=v.phase,
        closed_at=v.closed_at,
        score=v.score,
        band=v.band,
        bands=bands,
        nps=[NpsAt(at=n.at, score=n.score) for n in v.nps],
        plays=[
            PlaySnapshot(
                playbook=p.playbook,
                workflow_id=p.workflow_id,
                started_at=p.started_at,
                status=p.status,
                held_out=p.held_out,
            )
            for p in v.plays
        ],
        escalations=[e.at for e in v.timeline if e.kind == "alert"],
        expansion_signal=next((e.text for e in reversed(v.timeline) if e.kind == "expansion_signal"), ""),
        renewal_at=day_fact(v.facts, CONTRACT_END),
        churned_at=day_fact(v.facts, CHURNED_ON),
    )


def with_holdouts(a: AccountSnapshot, holdouts: dict[str, float]) -> AccountSnapshot:
    """Plays started by a release that did not record their holdout: today's holdout_percent."""
    if all(p.held_out is not None for p in a.plays):
        return a
    plays = [
        p
        if p.held_out is not None
        else p.model_copy(
            update={"held_out": held_out(a.account_id, p.playbook, holdouts.get(p.playbook, 0))}
        )
        for p in a.plays
    ]
    return a.model_copy(update={"plays": plays})


def day_fact(facts: dict, name: str) -> Optional[datetime]:
    """A date fact (YYYY-MM-DD, checked where facts enter) as the start of that day, UTC; None when
    the account has none."""
    raw = facts.get(name)
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    if isinstance(raw, date):
        return datetime(raw.year, raw.month, raw.day, tzinfo=UTC)
    if isinstance(raw, str):
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            return None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return None


def first_value_steps(definitions: dict[str, PlaybookDefinition]) -> set[str]:
    """The ids of the task steps that record first value."""
    return {
        st.id for d in definitions.values() for st in d.steps if getattr(st, "records", None) == FIRST_VALUE
    }


def first_value_at(run: RunView, steps: set[str]) -> Optional[datetime]:
    """When the task recording first value (one of `steps`) said yes; None: not yet, or no."""
    if run.facts.get(FIRST_VALUE) is not True:
        return None
    done = [
        r
        for r in run.timeline
        if r.step_id in steps and r.outcome == "completed" and r.detail.get("value") is True
    ]
    return done[-1].at if done else None


def pending_snapshots(run: RunView, csm_id: str) -> list[PendingSnapshot]:
    return [
        PendingSnapshot(
            account_id=run.account_id,
            csm_id=csm_id,
            workflow_id=run.workflow_id,
            step_id=p.step_id,
            kind=p.kind,
            assignee=p.assignee,
            due_at=p.due_at,
        )
        for p in run.pending
    ]


def run_row(run: RunView, csm_id: str, steps: set[str]) -> RunRow:
    return RunRow(
        workflow_id=run.workflow_id,
        account_id=run.account_id,
        csm_id=csm_id,
        playbook=run.playbook,
        pending=pending_snapshots(run, csm_id),
        first_value_at=first_value_at(run, steps),
    )
