"""The playbook interpreter: one deterministic workflow that runs any playbook definition.

The definition arrives by value in the input and is kept for the whole run (a new version of
the YAML never changes a run in flight). Humans act through the `act` update; its validator
refuses anything that is not pending, so a refused action writes nothing to history. What waits
for people (approvals, tasks, deadlines, escalation) is in workflows/pending.py; the run's
bookkeeping (timeline, day, template context, search attributes) in workflows/run.py.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import assert_never

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from csrunner.domain.definitions import (
        AnyStep,
        ApprovalStep,
        EmailStep,
        SlackStep,
        StartPlaybookStep,
        TaskStep,
        WaitStep,
    )
    from csrunner.domain.messages import (
        Action,
        Edit,
        EmailResult,
        Migration,
        Pending,
        PlaybookInput,
        RunState,
        RunView,
    )
    from csrunner.domain.migration import plan_migration
    from workflows import common, holdout
    from workflows.pending import PendingWork
    from workflows.run import PlaybookRun

ACTION_REFUSED, MIGRATION_REFUSED = "ActionRefused", "MigrationRefused"  # ApplicationError types


@workflow.defn
class PlaybookWorkflow(PlaybookRun):
    @workflow.init
    def __init__(self, inp: PlaybookInput) -> None:
        super().__init__(inp)
        self.work = PendingWork(self)
        self.migrations = 0

    @workflow.run
    async def run(self, inp: PlaybookInput) -> RunView:
        st = self.state
        if not st.schedule:
            plan = await self.plan(self.defn)
            st.schedule, st.day0 = plan.steps, plan.day0
        for p in st.pending.values():
            self.work.watch(p.step_id)
        try:
            while st.cursor < len(self.defn.steps):
                step = self.defn.steps[st.cursor]
                self.current = step.id  # the step being waited for, then run
                if await self._until(st.schedule[step.id], f"{step.id} (day {step.day})"):
                    await self._run_step(step)
                    st.cursor += 1
            self.current, st.status = None, "lingering"
            self.publish()
            try:  # open tasks stay actionable for a while after the last step
                await workflow.wait_condition(
                    lambda: not st.pending and not self.work.resending,
                    timeout=timedelta(days=self.defn.linger_days),
                )
            except TimeoutError:
                self.work.close("expired", "still open when the run closed")
        except asyncio.CancelledError:
            # Preempted (e.g. the account journey started a more urgent play): end cleanly.
            self.record(self.current or "-", "run", "preempted", reason="cancelled: another play took over")
            self.work.close("cancelled", "the run was preempted")
        st.status, self.current = "completed", None
        self.publish()
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self.work.resending)
        return self.run_view()

    # --- steps -------------------------------------------------------------------------------

    async def _run_step(self, step: AnyStep) -> None:
        st = self.state
        if step.id in st.skip_steps:
            return self.record(step.id, step.kind, "skipped", reason="its approval was skipped")
        if step.when and not step.when.holds(st.facts):
            return self.record(
                step.id, step.kind, "not_applicable", reason=f"condition on '{step.when.fact}' not met"
            )
        # Exhaustive over the step union: mypy rejects a kind without a case (assert_never), and
        # tests/workflows/test_dispatch.py checks every kind has its own.
        match step:
            case EmailStep():
                await self._email(step)
            case SlackStep():
                await self._slack(step)
            case TaskStep():
                await self._task(step)
            case WaitStep():
                self.record(step.id, "wait", "reached")
            case ApprovalStep():
                await self._approval(step)
            case StartPlaybookStep():
                await self._start_playbook(step)
            case _:
                assert_never(step)

    async def _email(self, step: EmailStep) -> None:
        contact = self.inp.account.contact(step.to)
        if contact is None:
            return await self.work.failed(step, f"the account has no contact with role '{step.to}'")
        if holdout.held_out_of_email(self.inp.account.id, self.defn):
            return self.record(step.id, "email", "held_out", reason=holdout.REASON)
        try:
            res = await workflow.execute_activity(
                "send_email",
                self.email_request(step, contact),
                result_type=EmailResult,
                **common.SEND_OPTIONS,
            )
        except ActivityError as e:
            unsure = common.unsure_email(e)
            if unsure is not None:  # a new path: no recorded history reaches it
                return await self.work.unsure(step.id, unsure, common.reason(e))
            return await self.work.failed(step, common.reason(e))
        self.record(
            step.id,
            "email",
            "sent",
            detail={
                "to": res.to,
                "subject": res.subject,
                "message_id": res.message_id,
                "channel": res.channel,
                "template": step.template,
                **self.edited(step.id),
            },
        )

    async def _slack(self, step: SlackStep) -> None:
        try:
            res = await self.notify.slack(
                step.id, step.to, step.template, self.run_ctx(step), facts=self.state.facts
            )
        except ActivityError as e:
            return await self.work.failed(step, common.reason(e))
        self.record(step.id, "slack", "sent", detail={"to": res.channel, "text": res.text[:500]})

    async def _task(self, step: TaskStep) -> None:
        due, shown = step.due, self.shown(step.shows)
        await self.work.open(
            Pending(
                step_id=step.id,
                kind="task",
                title=step.title,
                assignee=self.who(step.assignee),
                opened_at=workflow.now(),
                due_at=workflow.now() + timedelta(hours=due.hours) if due else None,
                ladder=due.escalate_to if due else [],
                ladder_hours=due.hours if due else 24,
                checklist=step.checklist,
                records=step.records,
                preview={"title": shown} if shown else {},
            ),
            description="\n\n".join(t for t in (step.description, shown) if t),
            agenda=step.agenda,
            deliverables=step.deliverables,
        )

    async def _approval(self, step: ApprovalStep) -> None:
        gated = self.defn.step(step.gates)
        if gated is None:  # the catalog refuses such a file; only a hand-built input gets here
            raise ApplicationError(f"'{step.id}' gates unknown step '{step.gates}'", non_retryable=True)
        preview, parts = await self.preview(gated)
        hours = step.deadline.hours
        p = Pending(
            step_id=step.id,
            kind="approval",
            title=step.title or f"Approve '{gated.id}'",
            assignee=self.who(step.approver),
            opened_at=workflow.now(),
            due_at=workflow.now() + timedelta(hours=hours),
            ladder=step.deadline.escalate_to,
            ladder_hours=hours,
            preview=preview,
            editable=parts,
        )
        decision = await self.work.approval(step, p)
        if decision.action == "skip":
            self.state.skip_steps.append(step.gates)
        elif decision.edits:
            self.state.edits[step.gates] = Edit(actor=decision.actor, parts=decision.edits)
        if p.slack_ref:  # the Slack request now says who did what
            await self.notify.update(p, decision, self.run_ctx(step))

    async def _start_playbook(self, step: StartPlaybookStep) -> None:
        nxt = self.inp.definitions[step.playbook]
        if step.mode == "parallel":
            await workflow.start_child_workflow(
                PlaybookWorkflow.run,
                self.inp.model_copy(update={"playbook": nxt.id, "state": None}),
                id=f"{workflow.info().workflow_id}/{nxt.id}",
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )
            return self.record(step.id, step.kind, "started", detail={"playbook": nxt.id})
        self.record(step.id, step.kind, "handed_over", detail={"playbook": nxt.id})
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self.work.notifying and not self.work.resending
        )
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

    # --- updates: people act, ops migrate ----------------------------------------------------

    @workflow.update
    async def act(self, action: Action) -> RunView:
        p = self.state.pending[action.step_id]
        self.work.apply(action)
        if action.action == "resend" and p.resend is not None:
            self.work.start_resend(p.resend)
        elif action.action == "reassign":
            await self.notify.reassigned(self.state.pending[action.step_id], self.run_ctx(None))
        return self.run_view()

    @act.validator
    def _validate(self, action: Action) -> None:
        problem = common.refusal(self.state, self.defn, self.inp.account, action, workflow.now())
        if problem:
            raise ApplicationError(problem, type=ACTION_REFUSED)

    @workflow.update
    async def migrate(self, m: Migration) -> RunView:
        new, st = m.definitions[self.defn.id], self.state
        plan = plan_migration(st, self.defn, new, self.current)
        if plan.resume_at is None:  # the validator refused it already; this keeps the types honest
            raise ApplicationError(plan.reason, type=MIGRATION_REFUSED)
        schedule = (await self.plan(new)).steps
        self.record(
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
        return self.run_view()

    @migrate.validator
    def _validate_migration(self, m: Migration) -> None:
        new = m.definitions.get(self.defn.id)
        if new is None:
            raise ApplicationError(
                f"the migration has no definition of '{self.defn.id}'", type=MIGRATION_REFUSED
            )
        plan = plan_migration(self.state, self.defn, new, self.current)
        if not plan.ok:
            raise ApplicationError(plan.reason, type=MIGRATION_REFUSED)

    # --- helpers -----------------------------------------------------------------------------

    async def _until(self, when: datetime, label: str) -> bool:
        """Wait for a step's time; False when a migration changed the plan meanwhile."""
        seen = self.migrations
        if when > workflow.now():
            self.publish()  # only before a wait: what the UI shows while the run sleeps
            try:
                await workflow.wait_condition(
                    lambda: self.migrations != seen, timeout=when - workflow.now(), timeout_summary=label
                )
            except TimeoutError:
                pass
        return self.migrations == seen

    @workflow.query
    def view(self) -> RunView:
        return self.run_view()
