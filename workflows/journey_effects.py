"""What the account journey does (starts, preempts and watches plays, sends alerts and referral
asks, keeps its timeline and search attributes), shared by both shapes of its handlers: the
recorded-decision ones (workflows/journey.py) and the previous release's (journey_legacy.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, Optional

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ChildWorkflowError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from csrunner.domain import journey_view, lifecycle
    from csrunner.domain.definitions import PlaybookDefinition
    from csrunner.domain.effectiveness import held_out
    from csrunner.domain.journey_messages import (
        ExpansionSignal,
        JourneyEvent,
        JourneyInput,
        JourneyState,
        NpsAnswer,
        NpsRecord,
        PlayRun,
    )
    from csrunner.domain.journey_rules import PlayStart
    from csrunner.domain.messages import RUN_VERSION, EmailRequest, EmailResult, PlaybookInput, RunState
    from workflows import common
    from workflows.journey_timers import JourneyTimers
    from workflows.playbook import PlaybookWorkflow
    from workflows.search_attributes import BAND


class JourneyEffects(JourneyTimers):
    """Base of AccountJourneyWorkflow (its run, signals and handlers are in workflows/journey.py;
    its timers (`_hold_timer`) in workflows/journey_timers.py)."""

    inp: JourneyInput
    state: JourneyState
    rules: lifecycle.LifecycleRules
    _sa: tuple

    async def _apply(
        self,
        d: lifecycle.Decision,
        slot: str,
        speak: bool,
        facts: dict[str, Any],
        starts: Sequence[PlayStart] = (),
    ) -> None:
        by_id = {p.workflow_id: p for p in self.state.plays}
        for wid in d.preempt:
            self._preempt(by_id[wid], d.note)
        if d.start:
            play = next((p for p in starts if p.playbook == d.start), None)
            await self._start(slot, d.start, d.note, facts, play)
        elif not d.quiet and speak and not d.preempt:  # a preemption already says why
            self._event("decision", d.note)

    async def _start(
        self,
        slot: str,
        playbook: str,
        reason: str,
        facts: Optional[dict] = None,
        play: Optional[PlayStart] = None,
        clock: Optional[datetime] = None,
    ) -> Optional[PlayRun]:
        """A play as a child workflow, with the then-current published definitions: those the
        decision brought (`play`), or (runs of the previous release) read by an activity. Its days
        count from `clock` (a scheduled play: when it was decided), else from now."""
        st, now, me = self.state, workflow.now(), workflow.info().workflow_id
        if play is not None:
            if play.error:
                self._event("play_failed", f"{playbook} not started: {play.error}")
                return None
            defs, span, digest = play.definitions, play.span_days, play.content_hash
        else:
            try:
                defs = await workflow.execute_activity(
                    "load_definitions",
                    playbook,
                    result_type=dict[str, PlaybookDefinition],
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=RetryPolicy(maximum_attempts=3),
                )
            except ActivityError as e:
                self._event("play_failed", f"{playbook} not started: {common.reason(e)}")
                return None
            span, digest = lifecycle.span_days(defs, playbook), ""
        n = st.counters[playbook] = st.counters.get(playbook, 0) + 1
        wid, d = f"{me}/{playbook}/{n}", defs[playbook]
        first = RunState(
            playbook=d.id,
            version=d.version,
            content_hash=digest or d.content_hash,
            started_at=clock or now,
            chain=[d.id],
            facts=facts or {},
        )
        try:
            handle = await workflow.start_child_workflow(
                PlaybookWorkflow.run,
                PlaybookInput(
                    account=self._account(),
                    playbook=playbook,
                    definitions=defs,
                    state=first,
                    journey_id=me,
                    search_attributes=self.inp.search_attributes,
                    version=RUN_VERSION,
                ),
                id=wid,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            self._event("play_failed", f"{playbook} not started: {wid} is already running")
            return None
        run = PlayRun(
            slot=slot,
            playbook=playbook,
            workflow_id=wid,
            n=n,
            started_at=now,
            ends_at=(clock or now) + timedelta(days=span),
            reason=reason,
            held_out=bool(d.holdout_percent) and held_out(st.account_id, d.id, d.holdout_percent),
        )
        st.plays = journey_view.keep_plays([*st.plays, run], self.rules.finished_plays_max)
        st.last_started[playbook] = now
        st.plays_started += 1
        self._event(
            "play_started", f"{playbook} started: {reason}", {"workflow_id": wid, "version": d.version}
        )
        asyncio.create_task(self._watch(handle, run))
        self._publish()
        return run

    async def _watch(self, handle, run: PlayRun) -> None:
        """How a play started by this run ends (plays carried over by continue-as-new are only
        known by their schedule: `PlayRun.ends_at`)."""
        status: Literal["completed", "failed"] = "completed"
        try:
            await handle
        except ChildWorkflowError:
            status = "failed"
        if run.status == "running":  # a preempted play already says so
            run.status, run.ended_at = status, workflow.now()
            self._event(f"play_{status}", f"{run.playbook} {status}", {"workflow_id": run.workflow_id})

    def _preempt(self, run: PlayRun, why: str) -> None:
        run.status, run.ended_at = "preempted", workflow.now()
        self._event("play_preempted", f"{run.playbook} preempted: {why}", {"workflow_id": run.workflow_id})
        self._publish()

        async def cancel() -> None:  # the play ends cleanly and records `preempted` itself
            try:
                await workflow.get_external_workflow_handle(run.workflow_id).cancel()
            except Exception:  # it had already ended
                pass

        asyncio.create_task(cancel())

    async def _alert(self, fired: list, prev: str, source: str) -> None:
        st = self.state
        score = st.score if st.score is not None else 0.0  # an alert follows a scored update
        severity, roles, alert, text = journey_view.alert(fired, score, st.band, prev, self._day(), source)
        st.alerts += 1
        sent = []
        for role in roles:
            try:
                await self._notifier().slack(
                    f"alert/{st.updates}/{role}", role, "journey_alert", self._ctx(), alert=alert
                )
                sent.append(role)
            except ActivityError as e:
                self._event("alert_failed", f"alert to {role} failed: {common.reason(e)}")
        self._event(
            "alert",
            f"{severity} alert to {', '.join(sent) or 'nobody'}: {text}",
            {"triggers": [t.name for t in fired], "to": sent},
        )

    async def _referral(self, rec: NpsRecord, why: str) -> None:
        """A promoter after measurable ROI: the referral / case-study ask, and a note to the CSM."""
        st, acc = self.state, self._account()
        n = st.counters["referral"] = st.counters.get("referral", 0) + 1
        try:
            mail = await workflow.execute_activity(
                "send_email",
                EmailRequest(
                    key=f"{workflow.info().workflow_id}/referral-email/{n}",
                    account=acc,
                    contact=acc.contact("champion") or acc.contacts[0],
                    template=lifecycle.REFERRAL_TEMPLATE,
                    run=self._ctx(),
                    facts={"nps_score": rec.score},
                ),
                result_type=EmailResult,
                **common.SEND_OPTIONS,
            )
        except ActivityError as e:
            return self._event("referral_failed", f"referral ask not sent: {common.reason(e)}")
        st.referral_asked_at = workflow.now()
        self._event(
            "email",
            f"referral / case-study ask sent to {mail.to}: {why}",
            {"subject": mail.subject, "template": lifecycle.REFERRAL_TEMPLATE},
        )
        try:
            await self._notifier().slack(
                f"referral-slack/{n}",
                "csm",
                "nps_promoter",
                self._ctx(),
                promoter={
                    "score": rec.score,
                    "comment": rec.comment,
                    "roi": st.metrics.get("roi_pct"),
                    "subject": mail.subject,
                },
            )
            self._event("slack", "promoter: CSM told about the referral ask", {"to": "csm"})
        except ActivityError as e:
            self._event("slack_failed", f"promoter note to the CSM failed: {common.reason(e)}")

    # --- timeline and helpers ------------------------------------------------------------------

    def _score_event(self, score, band: str, prev: str, changed: bool, fired, note: str, source: str) -> None:
        if changed or fired:
            was = f", was {prev}" if prev and changed else ""
            self._event(
                "score",
                f"score {score:g} ({band}{was})" + (f"; {note}" if note else ""),
                {"source": source, "update": self.state.updates},
            )

    def _nps_record(self, m: NpsAnswer, cat: str) -> NpsRecord:
        st = self.state
        rec = NpsRecord(at=m.at, day=self._day(), score=m.score, category=cat, comment=m.comment)
        st.nps = [*st.nps, rec][-self.rules.nps_max :]
        self._event(
            "nps",
            f"NPS {m.score} ({cat}); account NPS {lifecycle.nps(a.score for a in st.nps):g}",
            {"comment": m.comment},
        )
        return rec

    def _expansion_event(self, m: ExpansionSignal) -> None:
        self.state.expansion_signal = {"signal": m.signal, "detail": m.detail}
        self._event(
            "expansion_signal", f"expansion signal '{m.signal}'" + (f": {m.detail}" if m.detail else "")
        )

    def _take_facts(self, m) -> bool:
        """Keep the account facts a deal or an update brings (issue 11: by name, latest wins, for
        plays started from now on). True when the update brought only facts: nothing to score."""
        facts = m.account.facts if m.kind == "deal_closed" else getattr(m, "facts", None)
        if not facts:
            return False
        self.state.facts.update(facts)
        self._event("facts", f"facts updated: {', '.join(sorted(facts))}", {"facts": facts})
        return m.kind == "score" and m.facts_only()

    def _account(self):
        """The account as plays see it: its metrics plus score, band, triggers, NPS, and its facts
        (templates)."""
        st = self.state
        assert st.account is not None  # effects follow the deal
        extra = journey_view.template_metrics(
            st.metrics, st.score, st.band, st.last_triggers, st.nps, st.expansion_signal
        )
        facts = {**st.account.facts, **st.facts}
        return st.account.model_copy(update={"metrics": {**st.account.metrics, **extra}, "facts": facts})

    def _notifier(self) -> common.Notifier:
        return common.Notifier(self._account(), lambda name: f"{workflow.info().workflow_id}/{name}")

    def _ctx(self) -> dict:
        return journey_view.run_context(self.state.closed_at, workflow.now(), workflow.info().workflow_id)

    def _day(self) -> Optional[int]:
        return lifecycle.lifecycle_day(self.state.closed_at, workflow.now())

    def _event(self, kind: str, text: str, detail: Optional[dict] = None) -> None:
        st = self.state
        st.timeline.append(
            JourneyEvent(at=workflow.now(), day=self._day(), kind=kind, text=text, detail=detail or {})
        )
        del st.timeline[: -self.rules.timeline_max]

    def _publish(self) -> None:
        """Search attributes (ids only), upserted when they change; not on servers without them."""
        if not self.inp.search_attributes or self.state.account is None:
            return
        values = journey_view.search_values(self.state, workflow.now())
        if values != self._sa:
            self._sa = values
            workflow.upsert_search_attributes(
                [
                    common.ACCOUNT_ID.value_set(values[0]),
                    common.CSM_ID.value_set(values[1]),
                    BAND.value_set(values[2]),
                    common.PLAYBOOK.value_set(values[3]),
                ]
            )
