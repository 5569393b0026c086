"""The playbook interpreter: one deterministic workflow that runs any playbook definition.

The definition arrives by value in the input and is kept for the whole run (a new version of
the YAML never changes a run in flight). Humans act through the `act` update; its validator
refuses anything that is not pending, so a refused action writes nothing to history.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Optional

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from csrunner.domain.definitions import ApprovalStep, EmailStep, PlaybookDefinition
    from csrunner.domain.messages import (
        Action,
        EmailRequest,
        EmailResult,
        Migration,
        Pending,
        PlaybookInput,
        RenderedEmail,
        RunState,
        RunView,
        Schedule,
        ScheduleRequest,
        StepRecord,
    )
    from csrunner.domain.migration import plan_migration
    from workflows import common
    from workflows.common import ACTIONS_FOR


@workflow.defn
class PlaybookWorkflow:
    @workflow.init
    def __init__(self, inp: PlaybookInput) -> None:
        self.inp = inp
        self.defn: PlaybookDefinition = inp.definitions[inp.playbook]
        self.state = inp.state or RunState(
            playbook=self.defn.id,
            version=self.defn.version,
            content_hash=self.defn.content_hash,
            started_at=workflow.now(),
            chain=[self.defn.id],
        )
        self.notify = common.Notifier(inp.account, self.key)
        self.decisions: dict[str, Action] = {}  # approval answers for the main loop
        self.changed = 0  # bumped on every action, so waits recompute their deadlines
        self.current: Optional[str] = None
        self.migrations = 0
        self.notifying = 0  # escalation messages in flight
        self._sa: tuple = ()

    @workflow.run
    async def run(self, inp: PlaybookInput) -> RunView:
        st = self.state
        if not st.schedule:
            plan = await self._plan(self.defn)
            st.schedule, st.day0 = plan.steps, plan.day0
        for p in st.pending.values():
            self._watch(p.step_id)
        try:
            while st.cursor < len(self.defn.steps):
                step = self.defn.steps[st.cursor]
                self.current = step.id  # the step being waited for, then run
                if await self._until(st.schedule[step.id], f"{step.id} (day {step.day})"):
                    await self._run_step(step)
                    st.cursor += 1
            self.current, st.status = None, "lingering"
            self._publish()
            try:  # open tasks stay actionable for a while after the last step
                await workflow.wait_condition(
                    lambda: not st.pending, timeout=timedelta(days=self.defn.linger_days)
                )
            except TimeoutError:
                self._close_pending("expired", "still open when the run closed")
        except asyncio.CancelledError:
            # Preempted (e.g. the account journey started a more urgent play): end cleanly.
            self._record(self.current or "-", "run", "preempted", reason="cancelled: another play took over")
            self._close_pending("cancelled", "the run was preempted")
        st.status, self.current = "completed", None
        self._publish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    # --- steps -------------------------------------------------------------------------------

    async def _run_step(self, step) -> None:
        st = self.state
        if step.id in st.skip_steps:
            return self._record(step.id, step.kind, "skipped", reason="its approval was skipped")
        if step.when and not step.when.holds(st.facts):
            return self._record(
                step.id, step.kind, "not_applicable", reason=f"condition on '{step.when.fact}' not met"
            )
        await getattr(self, f"_{step.kind}")(step)

    async def _email(self, step: EmailStep) -> None:
        contact = self.inp.account.contact(step.to)
        if contact is None:
            return await self._failed(step, f"the account has no contact with role '{step.to}'")
        try:
            res = await workflow.execute_activity(
                "send_email",
                self._email_request(step, contact),
                result_type=EmailResult,
                **common.SEND_OPTIONS,
            )
        except ActivityError as e:
            return await self._failed(step, common.reason(e))
        self._record(
            step.id,
            "email",
            "sent",
            detail={
                "to": res.to,
                "subject": res.subject,
                "message_id": res.message_id,
                "channel": res.channel,
                "template": step.template,
            },
        )

    async def _slack(self, step) -> None:
        try:
            res = await self.notify.slack(
                step.id, step.to, step.template, self._run_ctx(step), facts=self.state.facts
            )
        except ActivityError as e:
            return await self._failed(step, common.reason(e))
        self._record(step.id, "slack", "sent", detail={"to": res.channel, "text": res.text[:500]})

    async def _task(self, step) -> None:
        due = step.due
        await self._open(
            Pending(
                step_id=step.id,
                kind="task",
                title=step.title,
                assignee=self._who(step.assignee),
                opened_at=workflow.now(),
                due_at=workflow.now() + timedelta(hours=due.hours) if due else None,
                ladder=due.escalate_to if due else [],
                ladder_hours=due.hours if due else 24,
                checklist=step.checklist,
                records=step.records,
            ),
            description=step.description,
            agenda=step.agenda,
            deliverables=step.deliverables,
        )

    async def _wait(self, step) -> None:
        self._record(step.id, "wait", "reached")

    async def _approval(self, step: ApprovalStep) -> None:
        gated = self.defn.step(step.gates)
        preview = await self._preview(gated)
        hours = step.deadline.hours
        p = Pending(
            step_id=step.id,
            kind="approval",
            title=step.title or f"Approve '{gated.id}'",
            assignee=self._who(step.approver),
            opened_at=workflow.now(),
            due_at=workflow.now() + timedelta(hours=hours),
            ladder=step.deadline.escalate_to,
            ladder_hours=hours,
            preview=preview,
        )
        await self._open(p)
        while step.id not in self.decisions:
            self._publish()
            wake, seen = p.snoozed_until or p.due_at, self.changed
            try:
                await workflow.wait_condition(
                    lambda: step.id in self.decisions or self.changed != seen,
                    timeout=common.left(wake) if wake else None,
                )
            except TimeoutError:
                await self._deadline(step, p)
        decision = self.decisions.pop(step.id)
        if decision.action == "skip":
            self.state.skip_steps.append(step.gates)
        if p.slack_ref:  # the Slack request now says who did what
            await self.notify.update(p, decision, self._run_ctx(step))

    async def _deadline(self, step: ApprovalStep, p: Pending) -> None:
        if p.snoozed_until and workflow.now() >= p.snoozed_until:  # snooze over: ask again
            p.snoozed_until, p.due_at = None, workflow.now() + timedelta(hours=p.ladder_hours)
            await self.notify.request(p, self._run_ctx(step), reminder=True)
        elif step.deadline.then in ("skip", "proceed"):
            action = "approve" if step.deadline.then == "proceed" else "skip"
            self._apply(
                Action(
                    step_id=step.id,
                    action=action,
                    actor="deadline",
                    reason=f"no answer within {p.ladder_hours:g} h",
                )
            )
        else:
            await self._escalate(p)

    async def _start_playbook(self, step) -> None:
        nxt = self.inp.definitions[step.playbook]
        if step.mode == "parallel":
            await workflow.start_child_workflow(
                PlaybookWorkflow.run,
                self.inp.model_copy(update={"playbook": nxt.id, "state": None}),
                id=f"{workflow.info().workflow_id}/{nxt.id}",
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )
            return self._record(step.id, step.kind, "started", detail={"playbook": nxt.id})
        self._record(step.id, step.kind, "handed_over", detail={"playbook": nxt.id})
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self.notifying)
        st = self.state
        carried = RunState(
            playbook=nxt.id,
            version=nxt.version,
            content_hash=nxt.content_hash,
            started_at=workflow.now(),
            facts=st.facts,
            pending=st.pending,
            timeline=st.timeline,
            chain=[*st.chain, nxt.id],
            chain_started_at=st.chain_started_at or st.started_at,
        )
        workflow.continue_as_new(self.inp.model_copy(update={"playbook": nxt.id, "state": carried}))

    # --- people: pending items, escalation, actions ------------------------------------------

    async def _open(self, p: Pending, **card) -> None:
        self.state.pending[p.step_id] = p
        self._record(
            p.step_id,
            p.kind,
            "requested" if p.kind == "approval" else "created",
            detail={"assignee": p.assignee},
        )
        if p.kind == "approval":
            p.slack_ref = await self.notify.request(p, self._run_ctx(None))
        else:
            await self.notify.task(p, **card)
            self._watch(p.step_id)

    def _watch(self, step_id: str) -> None:
        """Overdue tasks climb the ladder by themselves."""

        async def watch() -> None:
            while (p := self.state.pending.get(step_id)) and p.due_at:
                seen = self.changed
                try:
                    await workflow.wait_condition(lambda: self.changed != seen, timeout=common.left(p.due_at))
                except TimeoutError:
                    await self._escalate(p)

        if self.state.pending[step_id].kind == "task":
            asyncio.create_task(watch())

    async def _escalate(self, p: Pending) -> None:
        if p.rung >= len(p.ladder):  # top of the ladder: stays pending, marked overdue
            p.due_at = None
            return self._record(p.step_id, p.kind, "overdue", reason="no one left to escalate to")
        role = p.ladder[p.rung]
        p.rung += 1
        p.due_at = workflow.now() + timedelta(hours=p.ladder_hours)
        reason = f"unanswered for {p.ladder_hours * p.rung:g} h"
        self._record(p.step_id, p.kind, "escalated", reason=reason, detail={"to": role})
        self._publish()
        self.notifying += 1  # a handover waits for this, or the message would be lost
        try:
            await self.notify.escalation(p, role, reason, self._run_ctx(None))
        finally:
            self.notifying -= 1

    async def _failed(self, step, why: str) -> None:
        """A permanent failure never stops the playbook: it becomes a task for the CSM."""
        self._record(step.id, step.kind, "failed", reason=why)
        await self._open(
            Pending(
                step_id=f"{step.id}-fix",
                kind="task",
                title=f"Delivery failed for '{step.id}': {why}"[:300],
                assignee=self._who("csm"),
                opened_at=workflow.now(),
                due_at=workflow.now() + timedelta(days=1),
                ladder=["manager"],
                ladder_hours=24,
                checklist=["Fix the cause", "Send it by hand"],
            )
        )

    @workflow.update
    async def act(self, action: Action) -> RunView:
        self._apply(action)
        if action.action == "reassign":
            await self.notify.reassigned(self.state.pending[action.step_id], self._run_ctx(None))
        return self.view()

    @act.validator
    def _validate(self, action: Action) -> None:
        problem = common.refusal(self.state, self.defn, self.inp.account, action, workflow.now())
        if problem:
            raise ApplicationError(problem, type="ActionRefused")

    @workflow.update
    async def migrate(self, m: Migration) -> RunView:
        new, st = m.definitions[self.defn.id], self.state
        plan = plan_migration(st, self.defn, new, self.current)
        schedule = (await self._plan(new)).steps
        self._record(
            plan.resume_at,
            "run",
            "migrated",
            actor=m.actor,
            reason=m.reason,
            detail={
                "from": f"v{self.defn.version} {st.content_hash}",
                "to": f"v{new.version} {new.content_hash}",
            },
        )
        self.inp.definitions = {**self.inp.definitions, **m.definitions}
        self.defn, st.version, st.content_hash = new, new.version, new.content_hash
        st.cursor, st.schedule = new.index(plan.resume_at), schedule
        self.migrations += 1
        return self.view()

    @migrate.validator
    def _validate_migration(self, m: Migration) -> None:
        new = m.definitions.get(self.defn.id)
        if new is None:
            raise ApplicationError(
                f"the migration has no definition of '{self.defn.id}'", type="MigrationRefused"
            )
        plan = plan_migration(self.state, self.defn, new, self.current)
        if not plan.ok:
            raise ApplicationError(plan.reason, type="MigrationRefused")

    def _apply(self, a: Action) -> None:
        st, p = self.state, self.state.pending[a.step_id]
        outcome = ACTIONS_FOR[p.kind][a.action]
        if a.action == "snooze":
            p.snoozed_until = a.until
            if p.kind == "task":
                p.due_at = a.until
        elif a.action == "reassign":
            p.assignee, p.rung = self._who(a.assignee), 0
        else:
            del st.pending[a.step_id]
            if p.kind == "approval":
                self.decisions[a.step_id] = a
            elif p.records:
                st.facts[p.records] = a.value
        self.changed += 1
        self._record(
            a.step_id,
            p.kind,
            outcome,
            actor=a.actor,
            reason=a.reason,
            detail={
                k: v
                for k, v in (("until", a.until), ("value", a.value), ("assignee", a.assignee))
                if v is not None
            },
        )
        self._publish()

    # --- helpers -----------------------------------------------------------------------------

    async def _preview(self, gated) -> dict[str, str]:
        if not isinstance(gated, EmailStep):
            return {"title": gated.title or gated.id}
        contact = self.inp.account.contact(gated.to)
        if contact is None:
            return {"title": f"(no contact with role '{gated.to}')"}
        try:
            mail = await workflow.execute_activity(
                "render_email",
                self._email_request(gated, contact),
                result_type=RenderedEmail,
                **common.SEND_OPTIONS,
            )
        except ActivityError as e:
            return {"title": f"(preview failed: {common.reason(e)})"}
        return {"to": mail.to, "subject": mail.subject, "text": mail.text}

    async def _plan(self, defn: PlaybookDefinition) -> Schedule:
        req = ScheduleRequest(
            timezone=self.inp.account.timezone,
            start=self.state.started_at,
            default_time=defn.default_time,
            steps=[(s.id, s.day, s.at) for s in defn.steps],
        )
        return await workflow.execute_local_activity(
            "plan_schedule", req, result_type=Schedule, start_to_close_timeout=timedelta(seconds=10)
        )

    def _email_request(self, step: EmailStep, contact) -> EmailRequest:
        return EmailRequest(
            key=self.key(step.id),
            account=self.inp.account,
            contact=contact,
            template=step.template,
            run=self._run_ctx(step),
            facts=self.state.facts,
        )

    async def _until(self, when: datetime, label: str) -> bool:
        """Wait for a step's time; False when a migration changed the plan meanwhile."""
        seen = self.migrations
        if when > workflow.now():
            self._publish()  # only before a wait: what the UI shows while the run sleeps
            try:
                await workflow.wait_condition(
                    lambda: self.migrations != seen, timeout=when - workflow.now(), timeout_summary=label
                )
            except TimeoutError:
                pass
        return self.migrations == seen

    def _close_pending(self, outcome: str, why: str) -> None:
        for p in list(self.state.pending.values()):
            self._record(p.step_id, p.kind, outcome, reason=why)
        self.state.pending.clear()

    def _who(self, ref: str) -> str:
        """Pending items name a person id; a role with nobody behind it falls back to the CSM."""
        return (common.person(self.inp.account, ref) or self.inp.account.csm).id

    def key(self, name: str) -> str:
        return f"{workflow.info().workflow_id}/{self.state.playbook}/{name}"

    def _run_ctx(self, step) -> dict:
        return {
            "playbook": self.defn.id,
            "playbook_name": self.defn.name,
            "version": self.defn.version,
            "step": step.id if step else self.current,
            "day": step.day if step else self._day(),
            "started_on": self.state.started_at.date().isoformat(),
            "local_date": workflow.now().date().isoformat(),
            "workflow_id": workflow.info().workflow_id,
        }

    def _day(self) -> int:
        """The playbook's calendar day in the account's timezone (day 0 is the start date)."""
        return (workflow.now() - (self.state.day0 or self.state.started_at)) // timedelta(days=1)

    def _record(
        self,
        step_id: str,
        kind: str,
        outcome: str,
        actor: str = "playbook",
        reason: str = "",
        detail: Optional[dict] = None,
    ) -> None:
        self.state.timeline.append(
            StepRecord(
                step_id=step_id,
                kind=kind,
                outcome=outcome,
                at=workflow.now(),
                day=self._day(),
                actor=actor,
                reason=reason,
                detail=detail or {},
            )
        )

    def _publish(self) -> None:
        """Search attributes (ids only, no personal data), upserted only when they change."""
        if self.inp.search_attributes:
            self._sa = common.upsert_search_attributes(self.inp.account, self.state, self.current, self._sa)

    @workflow.query
    def view(self) -> RunView:
        st = self.state
        return RunView(
            workflow_id=workflow.info().workflow_id,
            account_id=self.inp.account.id,
            playbook=st.playbook,
            version=st.version,
            status=st.status,
            started_at=st.chain_started_at or st.started_at,
            current_step=self.current,
            day=self._day(),
            pending=list(st.pending.values()),
            timeline=st.timeline,
            facts=st.facts,
        )
