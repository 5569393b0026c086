"""Moving a running playbook to a new version of its definition. Pure (the workflow's update
validator uses it, and so does the dry-run), so both always agree."""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel

from csrunner.domain.definitions import PlaybookDefinition
from csrunner.domain.messages import RunState


class MigrationPlan(BaseModel):
    ok: bool
    reason: str
    from_version: int
    to_version: int
    resume_at: Optional[str] = None  # the step the run continues at in the new version
    skipped_new: list[str] = []  # new steps before the resume point: never run for this run
    upcoming: list[str] = []  # steps the run will still go through, in order
    dropped: list[str] = []  # old steps still ahead that the new version no longer has


def plan_migration(
    state: RunState, old: PlaybookDefinition, new: PlaybookDefinition, current: Optional[str] = None
) -> MigrationPlan:
    """`current`: the step the run is waiting for or running (default: the one at its cursor)."""
    base = dict(from_version=old.version, to_version=new.version)
    if new.id != old.id:
        return MigrationPlan(ok=False, reason=f"the run is on playbook '{old.id}', not '{new.id}'", **base)
    if new.content_hash == state.content_hash:
        return MigrationPlan(
            ok=False, reason=f"the run is already on this version ({new.content_hash})", **base
        )
    if state.status != "running" or state.cursor >= len(old.steps):
        return MigrationPlan(ok=False, reason="the run has no steps left to migrate", **base)
    resume = current or old.steps[state.cursor].id
    if new.step(resume) is None:
        return MigrationPlan(
            ok=False,
            reason=f"its current step '{resume}' does not exist in "
            f"{new.id} v{new.version}; it stays on v{old.version}",
            **base,
        )
    at = new.index(resume)
    old_ahead = [s.id for s in old.steps[state.cursor :]]
    new_ids = {s.id for s in new.steps}
    old_ids = {s.id for s in old.steps}
    return MigrationPlan(
        ok=True,
        reason=f"continues at '{resume}' in v{new.version}",
        resume_at=resume,
        skipped_new=[s.id for s in new.steps[:at] if s.id not in old_ids],
        upcoming=[s.id for s in new.steps[at:]],
        dropped=[i for i in old_ahead if i not in new_ids],
        **base,
    )
