"""Work waiting for people in a playbook run: approvals and tasks, their deadlines, the escalation
ladder (one rung per `ladder_hours`: CSM → manager → executive), and the answers people give.

Deterministic workflow code: PlaybookWorkflow owns one PendingWork and calls it from its steps
and from its `act` update; everything here runs in the run's event loop, in the order it is called.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from csrunner.domain.definitions import AnyStep, ApprovalStep
    from csrunner.domain.messages import Action, EmailResult, Pending, ResendRequest, UnsureEmail
    from workflows import common
    from workflows.common import ACTIONS_FOR
    from workflows.run import PlaybookRun


class PendingWork:
    def __init__(self, run: PlaybookRun) -> None:
        self.run = run
        self.decisions: dict[str, Action] = {}  # approval answers, for the step waiting on them
        self.changed = 0  # bumped on every action, so waits recompute their deadlines
        self.notifying = 0  # escalation messages in flight
        self.resending = 0  # resends in flight: the run ends (or hands over) after them

    async def open(self, p: Pending, **details: Any) -> None:
        """Record the item and tell its assignee: a Slack request for approvals, a task card
        (with `details`: description, agenda, deliverables) for tasks, which then watch their due time."""
        run = self.run
        run.state.pending[p.step_id] = p
        outcome = "requested" if p.kind == "approval" else "created"
        run.record(p.step_id, p.kind, outcome, detail={"assignee": p.assignee})
        if p.kind == "approval":
            p.slack_ref = await run.notify.request(p, run.run_ctx(None))
        else:
            await run.notify.task(p, **details)
            self.watch(p.step_id)

    def watch(self, step_id: str) -> None:
        """Overdue tasks climb the ladder by themselves."""
        pending = self.run.state.pending

        async def watch() -> None:
            while (p := pending.get(step_id)) and p.due_at:
                seen = self.changed
                try:
                    await workflow.wait_condition(lambda: self.changed != seen, timeout=common.left(p.due_at))
                except TimeoutError:
                    await self.escalate(p)

        if pending[step_id].kind == "task":
            asyncio.create_task(watch())

    async def approval(self, step: ApprovalStep, p: Pending) -> Action:
        """Ask for the approval and wait for its answer; the deadline acts when nobody answers."""
        await self.open(p)
        while step.id not in self.decisions:
            self.run.publish()
            wake, seen = p.snoozed_until or p.due_at, self.changed
            try:
                await workflow.wait_condition(
                    lambda: step.id in self.decisions or self.changed != seen,
                    timeout=common.left(wake) if wake else None,
                )
            except TimeoutError:
                await self._deadline(step, p)
        return self.decisions.pop(step.id)

    async def _deadline(self, step: ApprovalStep, p: Pending) -> None:
        if p.snoozed_until and workflow.now() >= p.snoozed_until:  # snooze over: ask again
            p.snoozed_until, p.due_at = None, workflow.now() + timedelta(hours=p.ladder_hours)
            await self.run.notify.request(p, self.run.run_ctx(step), reminder=True)
        elif step.deadline.then in ("skip", "proceed"):
            self.apply(
                Action(
                    step_id=step.id,
                    action="approve" if step.deadline.then == "proceed" else "skip",
                    actor="deadline",
                    reason=f"no answer within {p.ladder_hours:g} h",
                )
            )
        else:
            await self.escalate(p)

    async def escalate(self, p: Pending) -> None:
        run = self.run
        if p.rung >= len(p.ladder):  # top of the ladder: stays pending, marked overdue
            p.due_at = None
            return run.record(p.step_id, p.kind, "overdue", reason="no one left to escalate to")
        role = p.ladder[p.rung]
        p.rung += 1
        p.due_at = workflow.now() + timedelta(hours=p.ladder_hours)
        reason = f"unanswered for {p.ladder_hours * p.rung:g} h"
        run.record(p.step_id, p.kind, "escalated", reason=reason, detail={"to": role})
        run.publish()
        self.notifying += 1  # a handover waits for this, or the message would be lost
        try:
            await run.notify.escalation(p, role, reason, run.run_ctx(None))
        finally:
            self.notifying -= 1

    async def failed(self, step: AnyStep, why: str) -> None:
        """A permanent failure never stops the playbook: it becomes a task for the CSM."""
        await self._fix_task(step.id, step.kind, why)

    async def _fix_task(self, step_id: str, kind: str, why: str) -> None:
        self.run.record(step_id, kind, "failed", reason=why)
        await self.open(
            Pending(
                step_id=f"{step_id}-fix",
                kind="task",
                title=f"Delivery failed for '{step_id}': {why}"[:300],
                assignee=self.run.who("csm"),
                opened_at=workflow.now(),
                due_at=workflow.now() + timedelta(days=1),
                ladder=["manager"],
                ladder_hours=24,
                checklist=["Fix the cause", "Send it by hand"],
            )
        )

    async def unsure(self, step_id: str, email: UnsureEmail, why: str) -> None:
        """An email that may or may not have reached the customer is never re-sent by itself:
        the CSM checks, and resends it (the task's Resend action) if it did not arrive."""
        email = email.model_copy(update={"step_id": step_id})
        self.run.record(
            step_id, "email", "unknown", reason=why, detail={"to": email.to, "subject": email.subject}
        )
        suffix = "" if email.resends == 0 else f"-{email.resends + 1}"
        await self.open(
            Pending(
                step_id=f"{step_id}-check{suffix}",
                kind="task",
                title="Check whether this email reached the customer",
                assignee=self.run.who("csm"),
                opened_at=workflow.now(),
                due_at=workflow.now() + timedelta(days=1),
                ladder=["manager"],
                ladder_hours=24,
                checklist=[
                    "Look for it in SendGrid's activity feed, or ask the customer",
                    "Resend it if it did not arrive; otherwise mark this done",
                ],
                preview={"to": email.to, "subject": email.subject, "text": email.text},
                resend=email,
            ),
            description=f"To: {email.to}\nSubject: {email.subject}\n\n{email.text}",
        )

    def start_resend(self, email: UnsureEmail) -> None:
        """Resend in the background: the person's action returns at once; the send retries
        like any other, and a run waits for it before it ends or hands over."""
        self.resending += 1
        asyncio.create_task(self._resend(email))

    async def _resend(self, email: UnsureEmail) -> None:
        n = email.resends + 1
        try:
            res = await workflow.execute_activity(
                "resend_email",
                ResendRequest(key=f"{email.key}#resend-{n}", email=email),
                result_type=EmailResult,
                **common.SEND_OPTIONS,
            )
        except ActivityError as e:
            again = common.unsure_email(e)
            if again is not None:  # the resend's fate is unknown too: another check
                again = again.model_copy(update={"key": email.key, "resends": n})
                return await self.unsure(email.step_id, again, common.reason(e))
            return await self._fix_task(email.step_id, "email", common.reason(e))
        finally:
            self.resending -= 1
        detail = {"to": res.to, "subject": res.subject, "message_id": res.message_id, "channel": res.channel}
        self.run.record(email.step_id, "email", "sent", detail={**detail, "resend": n})
        self.run.publish()

    def apply(self, a: Action) -> None:
        """A person's (or a deadline's) answer, already checked by common.refusal."""
        st, p = self.run.state, self.run.state.pending[a.step_id]
        outcome = ACTIONS_FOR[p.kind][a.action]
        if a.action == "snooze":
            p.snoozed_until = a.until
            if p.kind == "task":
                p.due_at = a.until
        elif a.action == "reassign":
            p.assignee, p.rung = self.run.who(a.assignee or ""), 0
        else:
            del st.pending[a.step_id]
            if p.kind == "approval":
                self.decisions[a.step_id] = a
            elif p.records:
                st.facts[p.records] = a.value
        self.changed += 1
        edited = sorted(a.edits) or None  # the timeline says which parts; the text goes with the email
        given = {"until": a.until, "value": a.value, "assignee": a.assignee, "edited": edited}
        detail = {k: v for k, v in given.items() if v is not None}
        self.run.record(a.step_id, p.kind, outcome, actor=a.actor, reason=a.reason, detail=detail)
        self.run.publish()

    def close(self, outcome: str, why: str) -> None:
        """The run ends: whatever is still open is recorded as `outcome` and dropped."""
        for p in list(self.run.state.pending.values()):
            self.run.record(p.step_id, p.kind, outcome, reason=why)
        self.run.state.pending.clear()
