"""What the action API and the inbox share: pending items found through Temporal visibility,
account timelines, and actions checked against who may take them."""

from __future__ import annotations

import asyncio
import random
import re
from datetime import UTC, datetime
from typing import Any

from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from csrunner.domain.messages import Action, RunView
from csrunner.domain.timefmt import human_time
from csrunner.interfaces.web.auth import Principal, may_act, team_of
from csrunner.interfaces.web.errors import ServiceError, temporal_call
from csrunner.interfaces.web.models import ACCOUNT_ID, ActResult, PendingItem, Timeline, TimelineEntry
from csrunner.services.journeys import journey_view
from csrunner.services.runs import ActionRefused, act, owner_and_assignee, view
from workflows.search_attributes import CSM_ID

LIST_LIMIT = 500  # runs scanned per listing; the inbox is for people, not for bulk export


def _quote(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._:@/|-]{1,200}", value):
        raise ServiceError(422, f"invalid id {value!r}")
    return f"'{value}'"


async def _views(svc, query: str, what: str) -> list[tuple[str, str, RunView]]:
    """(workflow id, CSM id, view) of the PlaybookWorkflow runs matching a visibility query."""
    client = await svc.client()
    found = []
    async with temporal_call(svc, what):
        async for wf in client.list_workflows(query, limit=LIST_LIMIT):
            found.append((wf.id, wf.typed_search_attributes.get(CSM_ID) or "", wf.status))

    async def one(wid, csm, status):
        async with svc.queries:  # bounded fan-out of `view` queries
            try:
                async with temporal_call(svc, f"reading {wid}"):
                    return wid, csm, await view(client, wid)
            except ServiceError as e:
                if e.status == 503:
                    raise
                return None  # gone between list and query, or closed without a worker to replay

    results = await asyncio.gather(*(one(*f) for f in found))
    return [r for r in results if r is not None]


async def pending_for(svc, who: Principal, csm: str | None = None) -> list[PendingItem]:
    team = team_of(svc, who)
    if csm:
        if team is not None and csm not in team:
            raise ServiceError(403, f"{who.id} ({who.role}) may not see the accounts of {csm!r}")
        team = {csm}
    query = "WorkflowType = 'PlaybookWorkflow' AND ExecutionStatus = 'Running'"
    if team is not None:
        query += f" AND CsmId IN ({', '.join(_quote(c) for c in sorted(team))})"
    now = datetime.now(UTC)
    items = []
    for wid, csm_id, v in await _views(svc, query, "listing pending work"):
        for p in v.pending:
            items.append(
                PendingItem(
                    workflow_id=wid,
                    account_id=v.account_id,
                    account_name=v.account_name or v.account_id,
                    csm_id=csm_id,
                    playbook=v.playbook,
                    step_id=p.step_id,
                    kind=p.kind,
                    title=p.title,
                    assignee=p.assignee,
                    assignee_name=svc.name(p.assignee),
                    opened_at=p.opened_at,
                    due_at=p.due_at,
                    snoozed_until=p.snoozed_until,
                    overdue=bool(p.due_at and p.due_at < now),
                    records=p.records,
                    checklist=p.checklist,
                    preview=p.preview,
                    editable=p.editable,
                    resend=p.resend is not None,
                )
            )
    far = datetime.max.replace(tzinfo=UTC)
    # Overdue first (oldest deadline first), then by deadline, then oldest opened.
    items.sort(key=lambda i: (not i.overdue, i.due_at or far, i.opened_at))
    return items


async def timeline(svc, who: Principal, account_id: str) -> Timeline:
    if not re.fullmatch(ACCOUNT_ID, account_id):
        raise ServiceError(422, f"field 'account_id': invalid account id {account_id!r}")
    runs = await _views(
        svc,
        f"WorkflowType = 'PlaybookWorkflow' AND AccountId = {_quote(account_id)}",
        f"reading the timeline of {account_id}",
    )
    if not runs:
        raise ServiceError(404, f"unknown account {account_id!r}: no playbook runs found")
    if not any(may_act(svc, who, csm) for _, csm, _ in runs):
        raise ServiceError(403, f"{who.id} ({who.role}) may not see account {account_id!r}")
    entries = [
        TimelineEntry(
            at=r.at,
            workflow_id=wid,
            playbook=v.playbook,
            step_id=r.step_id,
            kind=r.kind,
            outcome=r.outcome,
            actor=r.actor,
            actor_name=svc.name(r.actor),
            reason=r.reason,
            detail=r.detail,
        )
        for wid, _, v in runs
        for r in v.timeline
    ]
    entries.sort(key=lambda e: e.at)
    # the newest run's name: what the account is called now
    name = max(runs, key=lambda r: r[2].started_at)[2].account_name or account_id
    return Timeline(
        account_id=account_id,
        account_name=name,
        runs=[wid for wid, _, _ in runs],
        entries=entries,
        facts=await _journey_facts(svc, account_id),
    )


async def _journey_facts(svc, account_id: str) -> dict[str, Any]:
    """The facts the account's journey keeps ({} for a playbook run on its own)."""
    client = await svc.client()
    async with svc.queries:
        try:
            async with temporal_call(svc, f"reading the journey of {account_id}"):
                return dict((await journey_view(client, account_id)).facts)
        except ServiceError as e:
            if e.status == 503:
                raise
            return {}


async def perform(svc, who: Principal, workflow_id: str, action: Action) -> ActResult:
    """Check who may act, then act through the run's update (its validator refuses what is
    not pending); a 2xx means the update is in the workflow's history. Of many people acting
    on one step at once, one wins and the others get 409 naming who did, and when, in the
    zone of the person who was refused."""
    try:
        return await _perform(svc, who, workflow_id, action)
    except ServiceError as e:
        if e.status == 409:
            e.message = in_zone(e.message, who.person.timezone)
        raise


_UTC_AT = re.compile(r"\bat (\d{4}-\d\d-\d\d \d\d:\d\d) UTC\b")


def in_zone(message: str, zone: str) -> str:
    """'... at 2026-12-01 18:30 UTC' (how runs word it) → '... at Tue 1 Dec 2026, 13:30 (New York)'."""
    return _UTC_AT.sub(lambda m: "at " + human_time(m[1], zone), message)


async def _perform(svc, who: Principal, workflow_id: str, action: Action) -> ActResult:
    client = await svc.client()
    async with temporal_call(svc, f"finding run {workflow_id!r}"):
        desc = await client.get_workflow_handle(workflow_id).describe()
    if desc.workflow_type != "PlaybookWorkflow":
        raise ServiceError(404, f"{workflow_id!r} is not a playbook run")
    if desc.status != WorkflowExecutionStatus.RUNNING:
        raise ServiceError(
            409, await _closed_refusal(svc, client, workflow_id, action.step_id, desc.status.name.lower())
        )
    csm = desc.typed_search_attributes.get(CSM_ID) or ""
    if not may_act(svc, who, csm):
        async with temporal_call(svc, f"reading {workflow_id!r}"):
            v = await view(client, workflow_id)
        csm, assignee = owner_and_assignee(v, csm, action.step_id)
        if not may_act(svc, who, csm, assignee):
            raise ServiceError(403, f"{who.id} ({who.role}) may not act on runs of CSM {csm!r}")
    try:
        async with temporal_call(svc, f"{action.action} on {workflow_id!r}"):
            v = await _act_when_admitted(client, workflow_id, action)
    except ActionRefused as e:  # the validator names who acted: no second read under contention
        raise ServiceError(409, _with_names(svc, str(e))) from None
    except ServiceError as e:
        if e.status not in (404, 503):
            raise
        # Aborted or gone (the run closed as another action completed it), or the answer was lost: look
        # at the run before saying anything, and 503 only if that fails too.
        await _after_failure(svc, client, workflow_id, action.step_id)
        raise
    return ActResult(
        workflow_id=workflow_id,
        step_id=action.step_id,
        action=action.action,
        actor=action.actor,
        pending=[p.step_id for p in v.pending],
    )


_ACTED_BY = re.compile(r"(already \w+ by )([A-Za-z0-9._-]+)( at )")


def _with_names(svc, message: str) -> str:
    """'... already approved by carlos at ...' → '... by Carlos Ruiz (carlos) at ...'."""
    return _ACTED_BY.sub(lambda m: f"{m[1]}{svc.name(m[2])} ({m[2]}){m[3]}", message)


async def _after_failure(svc, client, workflow_id: str, step_id: str) -> None:
    """After an update failed: 409 naming who acted when the step was decided (even if it was
    this very request whose answer was lost: it says so by name); nothing when unreadable."""
    try:
        async with temporal_call(svc, f"reading {workflow_id!r}", max(3 * svc.config.temporal_timeout, 30.0)):
            desc = await client.get_workflow_handle(workflow_id).describe()
            v = await view(client, workflow_id)
    except ServiceError:
        return
    acted = _acted(svc, v, step_id)
    if acted or desc.status != WorkflowExecutionStatus.RUNNING:
        status = desc.status.name.lower() if desc.status else "closed"
        raise ServiceError(409, acted or f"run {workflow_id!r} is {status}: nothing can be acted on")


async def _act_when_admitted(client, workflow_id: str, action: Action) -> RunView:
    """Temporal admits a few updates per run at a time (RESOURCE_EXHAUSTED past that): wait for
    a turn (within temporal_call's bound) rather than answer 503 for a request that was refused."""
    delay = 0.05
    while True:
        try:
            return await act(client, workflow_id, action)
        except RPCError as e:
            if e.status != RPCStatusCode.RESOURCE_EXHAUSTED:
                raise
        await asyncio.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 1.0)


async def _refusal(
    svc, client, workflow_id: str, step_id: str, default: str = "", timeout: float | None = None
) -> str:
    """'already approved by María García (maria) at ...' when someone acted on the step."""
    try:
        async with temporal_call(svc, f"reading {workflow_id!r}", timeout):
            v = await view(client, workflow_id)
    except ServiceError:
        return default or f"step '{step_id}' is not pending"
    return _acted(svc, v, step_id) or default or f"step '{step_id}' is not pending"


def _acted(svc, v: RunView, step_id: str) -> str:
    """'step 'x' is not pending: already approved by María García (maria) at ...', or ''."""
    done = [r for r in v.timeline if r.step_id == step_id and r.actor != "playbook"]
    if not done:
        return ""
    r = done[-1]
    return (
        f"step '{step_id}' is not pending: already {r.outcome} by {svc.name(r.actor)} ({r.actor}) "
        f"at {r.at:%Y-%m-%d %H:%M} UTC"
    )


async def _closed_refusal(svc, client, workflow_id: str, step_id: str, status: str) -> str:
    """Why nothing can be done on a closed run, naming who acted on the step when we can tell."""
    why = f"run {workflow_id!r} is {status}: nothing can be acted on"
    # A closed run answers a query only after a worker replays it: give that time, it is worth
    # naming who acted rather than a bare "closed".
    slow = max(3 * svc.config.temporal_timeout, 30.0)
    found = await _refusal(svc, client, workflow_id, step_id, why, slow)
    return why if found == why else f"{found} ({why})"
