"""A playbook run's bookkeeping, shared by the interpreter (workflows/playbook.py) and its pending
work (workflows/pending.py): the state, the timeline, the calendar day, what templates see as
`run`, idempotency keys, who a role is, the schedule and the search attributes.

Deterministic workflow code: the clock is workflow.now() and every I/O is an activity.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Optional

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from csrunner.domain import read_model
    from csrunner.domain.context import RunContext
    from csrunner.domain.definitions import AnyStep, EmailStep, PlaybookDefinition
    from csrunner.domain.messages import (
        RUN_VERSION,
        Contact,
        EmailRequest,
        PlaybookInput,
        RenderedEmail,
        RunState,
        RunView,
        Schedule,
        ScheduleRequest,
        StepRecord,
    )
    from workflows import common


class PlaybookRun:
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
        self.current: Optional[str] = None  # the step being waited for, then run
        self._sa: common.SearchValues | tuple[()] = ()
        self._row_key: tuple = ()

    def who(self, ref: str) -> str:
        """Pending items name a person id; a role with nobody behind it falls back to the CSM."""
        return (common.person(self.inp.account, ref) or self.inp.account.csm).id

    def key(self, name: str) -> str:
        """The idempotency key of one message or task of this run."""
        return f"{workflow.info().workflow_id}/{self.state.playbook}/{name}"

    def run_ctx(self, step: AnyStep | None) -> RunContext:
        return RunContext(
            playbook=self.defn.id,
            playbook_name=self.defn.name,
            version=self.defn.version,
            step=step.id if step else self.current,
            day=step.day if step else self.day(),
            started_on=self.state.started_at.date().isoformat(),
            local_date=workflow.now().date().isoformat(),
            workflow_id=workflow.info().workflow_id,
        )

    def email_request(self, step: EmailStep, contact: Contact) -> EmailRequest:
        return EmailRequest(
            key=self.key(step.id),
            account=self.inp.account,
            contact=contact,
            template=step.template,
            run=self.run_ctx(step),
            facts=self.state.facts,
            edits=edit.parts if (edit := self.state.edits.get(step.id)) else {},
        )

    def shown(self, names: list[str]) -> str:
        """The account metrics a task lists, one a line, saying which are missing."""
        metrics = self.inp.account.metrics
        lines = [f"- {n.replace('_', ' ').capitalize()}: {metrics.get(n, '(not given)')}" for n in names]
        return "\n".join(["Signals:", *lines]) if lines else ""

    def edited(self, step_id: str) -> dict[str, Any]:
        """For an email's timeline line: who rewrote which parts before it went."""
        edit = self.state.edits.get(step_id)
        return {"edited_by": edit.actor, "edited": sorted(edit.parts)} if edit else {}

    async def preview(self, gated: AnyStep) -> tuple[dict[str, str], dict[str, str]]:
        """What an approval request shows of the step it guards: an email rendered as it would go,
        and the current text of the parts its approver may edit."""
        if not isinstance(gated, EmailStep):
            return {"title": gated.title or gated.id}, {}
        contact = self.inp.account.contact(gated.to)
        if contact is None:
            return {"title": f"(no contact with role '{gated.to}')"}, {}
        try:
            mail = await workflow.execute_activity(
                "render_email",
                self.email_request(gated, contact),
                result_type=RenderedEmail,
                **common.SEND_OPTIONS,
            )
        except ActivityError as e:
            return {"title": f"(preview failed: {common.reason(e)})"}, {}
        parts = {k: mail.parts.get(k, "") for k in gated.editable}
        return {"to": mail.to, "subject": mail.subject, "text": mail.text}, parts

    def day(self) -> int:
        """The playbook's calendar day in the account's timezone (day 0 is the start date)."""
        return (workflow.now() - (self.state.day0 or self.state.started_at)) // timedelta(days=1)

    async def plan(self, defn: PlaybookDefinition) -> Schedule:
        """When each step of `defn` is due, from the run's start in the account's timezone."""
        req = ScheduleRequest.of(defn, self.inp.account.timezone, self.state.started_at)
        return await workflow.execute_local_activity(
            "plan_schedule", req, result_type=Schedule, start_to_close_timeout=timedelta(seconds=10)
        )

    def record(
        self,
        step_id: str,
        kind: str,
        outcome: str,
        actor: str = "playbook",
        reason: str = "",
        detail: Optional[dict[str, Any]] = None,
    ) -> None:
        self.state.timeline.append(
            StepRecord(
                step_id=step_id,
                kind=kind,
                outcome=outcome,
                at=workflow.now(),
                day=self.day(),
                actor=actor,
                reason=reason,
                detail=detail or {},
            )
        )

    def publish(self) -> None:
        """Search attributes (ids only, no personal data) and the dashboard's row of this run (open
        work, first value: csrunner/domain/read_model.py), each upserted only when it changes."""
        if not self.inp.search_attributes:
            return
        self._sa = common.upsert_search_attributes(self.inp.account, self.state, self.current, self._sa)
        st = self.state
        # Whether to upsert is decided from the state, never from the row's content (see journey.py).
        key = (
            st.playbook,
            st.facts.get(read_model.FIRST_VALUE),
            *sorted((k, p.assignee, p.due_at) for k, p in st.pending.items()),
        )
        # A run started by this release (RUN_VERSION) does not ask the patch: asking costs a write.
        if key != self._row_key and (self.inp.version >= RUN_VERSION or workflow.patched(read_model.PATCH)):
            self._row_key = key
            steps = read_model.first_value_steps(self.inp.definitions)
            row = read_model.run_row(self.run_view(), self.inp.account.csm.id, steps)
            workflow.upsert_memo({read_model.MEMO_KEY: row})

    def run_view(self) -> RunView:
        st = self.state
        return RunView(
            workflow_id=workflow.info().workflow_id,
            account_id=self.inp.account.id,
            account_name=self.inp.account.name,
            csm_id=self.inp.account.csm.id,
            playbook=st.playbook,
            version=st.version,
            status=st.status,
            started_at=st.chain_started_at or st.started_at,
            current_step=self.current,
            day=self.day(),
            pending=list(st.pending.values()),
            timeline=st.timeline,
            facts=st.facts,
        )
