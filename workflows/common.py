"""Deterministic helpers shared by the workflows: activity options, who a role is, which actions
are allowed, Slack notifications for people, and search attributes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Optional, TypedDict

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from csrunner.domain.context import RunContext, card
    from csrunner.domain.definitions import TEAM_ROLES, ApprovalStep, EmailStep, PlaybookDefinition
    from csrunner.domain.errors import DELIVERY_UNKNOWN, PERMANENT
    from csrunner.domain.messages import (
        Account,
        Action,
        Pending,
        Person,
        RunState,
        SlackButton,
        SlackRequest,
        SlackResult,
        TaskRequest,
        UnsureEmail,
    )
    from workflows.search_attributes import ACCOUNT_ID, CSM_ID, CURRENT_STEP, PENDING_STEPS, PLAYBOOK


class ActivityOptions(TypedDict):
    """Keyword arguments of workflow.execute_activity, typed so `**SEND_OPTIONS` type-checks."""

    start_to_close_timeout: timedelta
    schedule_to_close_timeout: timedelta
    retry_policy: RetryPolicy


#: Transient failures retry with backoff for up to a day; permanent ones never retry.
SEND_OPTIONS = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=15),  # a worker that dies mid-send is retried this soon
    schedule_to_close_timeout=timedelta(hours=24),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=10),
        non_retryable_error_types=[PERMANENT],
    ),
)

#: action → what the timeline says, per kind of pending item
ACTIONS_FOR = {
    "approval": {"approve": "approved", "skip": "skipped", "snooze": "snoozed", "reassign": "reassigned"},
    "task": {"complete": "completed", "snooze": "snoozed", "reassign": "reassigned", "resend": "resent"},
}


def actions_for(p: Pending) -> dict[str, str]:
    """What a person may do with this item: `resend` only on a check-this-email task."""
    return {k: v for k, v in ACTIONS_FOR[p.kind].items() if k != "resend" or p.resend is not None}


#: The journey builds its own `run` (csrunner.domain.journey_view.run_context) as a plain dict.
Run = RunContext | dict[str, Any]


def left(until: datetime) -> timedelta:
    """Time until `until`, never zero or negative (a zero timeout would fire at once as an error)."""
    return max(until - workflow.now(), timedelta(milliseconds=1))


def reason(err: ActivityError) -> str:
    cause = err.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or err)


def unsure_email(err: ActivityError) -> Optional[UnsureEmail]:
    """The message of a send whose outcome is unknown (DELIVERY_UNKNOWN), or None."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type == DELIVERY_UNKNOWN and cause.details:
        return UnsureEmail.model_validate(cause.details[0])
    return None


def person(account: Account, ref: str) -> Person | None:
    """A team role (csm, manager, executive) or a person id → the person; None if unknown."""
    if ref in TEAM_ROLES:
        return account.person(ref)
    return next((p for p in (account.csm, account.manager, account.executive) if p and p.id == ref), None)


def refusal(
    st: RunState, defn: PlaybookDefinition, account: Account, a: Action, now: datetime
) -> Optional[str]:
    """Why an action cannot be applied, or None. Nothing is written when this says no."""
    p = st.pending.get(a.step_id)
    if p is None:
        done = [r for r in st.timeline if r.step_id == a.step_id and r.actor != "playbook"]
        if done:
            last = done[-1]
            return (
                f"step '{a.step_id}' is not pending: already {last.outcome} by {last.actor} "
                f"at {last.at:%Y-%m-%d %H:%M} UTC"
            )
        if defn.step(a.step_id) is None and not any(r.step_id == a.step_id for r in st.timeline):
            return f"unknown step '{a.step_id}' in playbook '{defn.id}'"
        return f"step '{a.step_id}' is not pending"
    allowed = actions_for(p)
    if a.action not in allowed:
        article = "an" if p.kind[0] in "aeiou" else "a"
        use = ", ".join(allowed)
        return f"step '{a.step_id}' is {article} {p.kind}: '{a.action}' is not allowed (use {use})"
    if a.action == "snooze" and (a.until is None or a.until <= now):
        return "snooze needs 'until' in the future"
    if a.action == "reassign" and (not a.assignee or person(account, a.assignee) is None):
        return f"reassign needs an assignee known on this account (got {a.assignee!r})"
    if a.action == "complete" and p.records and a.value is None:
        return f"step '{a.step_id}' records '{p.records}': give value true or false"
    return edit_refusal(defn, p, a)


def edit_refusal(defn: PlaybookDefinition, p: Pending, a: Action) -> Optional[str]:
    """Edits go only with approving an email's gate, only on its editable parts, and the parts
    it requires must not end up empty."""
    gate = defn.step(a.step_id)
    email = defn.step(gate.gates) if isinstance(gate, ApprovalStep) else None
    if not isinstance(email, EmailStep):
        return f"step '{a.step_id}' has nothing to edit" if a.edits else None
    if a.edits and a.action != "approve":
        return f"edits go with approve, not {a.action}"
    wrong = sorted(set(a.edits) - set(email.editable))
    if wrong:
        allowed = ", ".join(email.editable) or "none"
        return f"'{wrong[0]}' is not an editable part of '{email.id}' (editable: {allowed})"
    if a.action == "approve":
        for part in email.required:
            if not a.edits.get(part, p.editable.get(part, "")).strip():
                return (
                    f"approving '{a.step_id}' needs '{part}' written: the email '{email.id}' cannot go "
                    f"out without it (edit '{part}' and approve again)"
                )
    return None


class Notifier:
    """Slack messages and task cards for people, each with its own idempotency key."""

    def __init__(self, account: Account, key: Callable[[str], str]):
        self.account, self.key = account, key

    def _target(self, ref: str) -> str:
        if ref.startswith("#"):
            return ref
        who = person(self.account, ref) or self.account.csm
        return who.slack_user or f"@{who.id}"

    async def slack(
        self,
        name: str,
        to: str,
        template: str,
        run: Run,
        buttons: Iterable[SlackButton] = (),
        update: dict[str, str] | None = None,
        **context: Any,
    ) -> SlackResult:
        req = SlackRequest(
            key=self.key(name),
            account=self.account,
            to=self._target(to),
            template=template,
            context={"run": run, **context},
            buttons=list(buttons),
            update=update or {},
        )
        return await workflow.execute_activity("post_slack", req, result_type=SlackResult, **SEND_OPTIONS)

    async def request(self, p: Pending, run: Run, reminder: bool = False) -> dict[str, str]:
        value = f"{workflow.info().workflow_id}|{p.step_id}"
        buttons = [
            SlackButton(text="Approve", action_id="approve", value=value, style="primary"),
            *([SlackButton(text="Edit", action_id="edit", value=value)] if p.editable else []),
            SlackButton(text="Skip", action_id="skip", value=value, style="danger"),
            SlackButton(text="Snooze 1 day", action_id="snooze", value=value),
        ]
        name = f"{p.step_id}:remind:{workflow.now():%Y%m%dT%H%M}" if reminder else f"{p.step_id}:request"
        try:
            res = await self.slack(
                name, p.assignee, "approval_request", run, buttons, approval=self._card(p), reminder=reminder
            )
        except ActivityError:
            return {}  # the inbox and CLI still show it; Slack is a convenience here
        return {"channel": res.channel, "ts": res.ts}

    async def update(self, p: Pending, decision: Action, run: Run) -> None:
        try:
            await self.slack(
                f"{p.step_id}:decided",
                p.assignee,
                "approval_decided",
                run,
                update=p.slack_ref,
                approval=self._card(p),
                decision=decision.model_dump(mode="json"),
            )
        except ActivityError:
            pass  # the decision stands; only the Slack message stays stale

    async def escalation(self, p: Pending, role: str, why: str, run: Run) -> None:
        who = person(self.account, role) or self.account.csm
        try:
            await self.slack(
                f"{p.step_id}:escalate:{p.rung}",
                role,
                "escalation",
                run,
                item=self._card(p),
                escalation={"to": who.name, "role": role, "reason": why},
            )
        except ActivityError:
            pass

    async def reassigned(self, p: Pending, run: Run) -> None:
        try:
            await self.slack(
                f"{p.step_id}:reassign:{workflow.now():%Y%m%dT%H%M%S}",
                p.assignee,
                "reassigned",
                run,
                item=self._card(p),
            )
        except ActivityError:
            pass

    async def task(self, p: Pending, **details: Any) -> None:
        who = person(self.account, p.assignee) or self.account.csm
        await workflow.execute_local_activity(
            "create_task",
            TaskRequest(
                key=self.key(p.step_id),
                account=self.account,
                assignee=who,
                title=p.title,
                checklist=p.checklist,
                due_at=p.due_at,
                **details,
            ),
            result_type=str,
            start_to_close_timeout=timedelta(seconds=30),
        )

    def _card(self, p: Pending) -> dict[str, Any]:
        return card(p)


#: What was last upserted: account, CSM, playbook, current step, pending step ids.
SearchValues = tuple[str, str, str, str, tuple[str, ...]]


def upsert_search_attributes(
    account: Account, st: RunState, current: Optional[str], last: SearchValues | tuple[()]
) -> SearchValues:
    values: SearchValues = (account.id, account.csm.id, st.playbook, current or "", tuple(sorted(st.pending)))
    if values != last:
        workflow.upsert_search_attributes(
            [
                ACCOUNT_ID.value_set(values[0]),
                CSM_ID.value_set(values[1]),
                PLAYBOOK.value_set(values[2]),
                CURRENT_STEP.value_set(values[3]),
                PENDING_STEPS.value_set(list(values[4])),
            ]
        )
    return values
