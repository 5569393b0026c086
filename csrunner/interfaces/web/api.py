"""The CSM/ops action API (bearer tokens): who am I, pending work, the actions, and an
account's timeline. The same functions back the web inbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Optional

from fastapi import APIRouter, Depends, Query, Request

from csrunner.domain.messages import Action
from csrunner.interfaces.web.auth import Principal, api_user, check_api_user, team_of
from csrunner.interfaces.web.errors import ServiceError, error_responses
from csrunner.interfaces.web.guard import auth_first
from csrunner.interfaces.web.models import (
    ACCOUNT_ID,
    ActIn,
    ActResult,
    ApproveIn,
    CompleteIn,
    Me,
    PendingItem,
    ReassignIn,
    RejectIn,
    SnoozeIn,
    Timeline,
)
from csrunner.interfaces.web.work import pending_for, perform, timeline

router = APIRouter(prefix="/api", tags=["actions"], route_class=auth_first(check_api_user))
ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422, 503)


@router.get("/me", response_model=Me, responses=ERRORS, summary="Who the token belongs to")
async def me(request: Request, who: Principal = Depends(api_user)) -> Me:
    team = team_of(request.app.state.svc, who)
    return Me(
        id=who.id,
        name=who.person.name,
        email=who.person.email,
        role=who.role,
        sees="all" if team is None else sorted(team),
    )


@router.get(
    "/pending",
    response_model=list[PendingItem],
    responses=ERRORS,
    summary="Pending approvals and tasks I may act on, overdue first",
)
async def pending(
    request: Request,
    who: Principal = Depends(api_user),
    csm: Optional[str] = Query(None, pattern=ACCOUNT_ID, description="only this CSM's accounts"),
):
    return await pending_for(request.app.state.svc, who, csm)


@router.get(
    "/accounts/{account_id}/timeline",
    response_model=Timeline,
    responses=ERRORS,
    summary="What happened on an account: sent, approved or skipped by whom, escalations and why",
)
async def account_timeline(account_id: str, request: Request, who: Principal = Depends(api_user)) -> Timeline:
    return await timeline(request.app.state.svc, who, account_id)


MAX_SNOOZE = timedelta(days=365)


def snooze_until(when: datetime) -> datetime:
    """A time without offset is UTC; a year is the longest snooze (a timer, not a tombstone)."""
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when - datetime.now(UTC) > MAX_SNOOZE:
        raise ServiceError(422, "field 'until': at most 365 days from now")
    return when


async def _act(request: Request, who: Principal, body: ActIn, name: str, **extra) -> ActResult:
    action = Action(step_id=body.step_id, action=name, actor=who.id, reason=body.reason, **extra)
    return await perform(request.app.state.svc, who, body.workflow_id, action)


@router.post(
    "/actions/approve",
    response_model=ActResult,
    responses=ERRORS,
    summary="Approve a pending approval, optionally with edits to the email it guards (sent as edited)",
)
async def approve(body: ApproveIn, request: Request, who: Principal = Depends(api_user)) -> ActResult:
    return await _act(request, who, body, "approve", edits=body.edits)


@router.post(
    "/actions/reject",
    response_model=ActResult,
    responses=ERRORS,
    summary="Reject a pending approval: a skip with a required reason (the email is not sent)",
)
async def reject(body: RejectIn, request: Request, who: Principal = Depends(api_user)) -> ActResult:
    return await _act(request, who, body, "reject")


@router.post(
    "/actions/skip",
    response_model=ActResult,
    responses=ERRORS,
    summary="Skip a pending approval (the step it guards is not sent)",
)
async def skip(body: ActIn, request: Request, who: Principal = Depends(api_user)) -> ActResult:
    return await _act(request, who, body, "skip")


@router.post(
    "/actions/snooze",
    response_model=ActResult,
    responses=ERRORS,
    summary="Snooze an approval or task until a time",
)
async def snooze(body: SnoozeIn, request: Request, who: Principal = Depends(api_user)) -> ActResult:
    return await _act(request, who, body, "snooze", until=snooze_until(body.until))


@router.post(
    "/actions/complete", response_model=ActResult, responses=ERRORS, summary="Complete a pending task"
)
async def complete(body: CompleteIn, request: Request, who: Principal = Depends(api_user)) -> ActResult:
    return await _act(request, who, body, "complete", value=body.value)


@router.post(
    "/actions/resend",
    response_model=ActResult,
    responses=ERRORS,
    summary="Resend the email of a 'check whether this email reached the customer' task (its `resend` "
    "is true): it goes once more, under a new idempotency key, and the task is done",
)
async def resend(body: ActIn, request: Request, who: Principal = Depends(api_user)) -> ActResult:
    return await _act(request, who, body, "resend")


@router.post(
    "/actions/reassign",
    response_model=ActResult,
    responses=ERRORS,
    summary="Reassign a pending approval or task to another person or role",
)
async def reassign(body: ReassignIn, request: Request, who: Principal = Depends(api_user)) -> ActResult:
    return await _act(request, who, body, "reassign", assignee=body.assignee)
