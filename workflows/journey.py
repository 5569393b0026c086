"""The account journey: one long-lived workflow per account, id `journey:{account_id}`.

Started by signal-with-start (the deal closing, or the first update for the account), so nothing
sent to it is lost. It runs onboarding (which hands over to scaling) and the NPS survey, then
reacts to what it receives: health scores and metrics (scored by the model, triggers evaluated
and named in the alert), NPS answers and expansion signals. Plays are PlaybookWorkflow children
`journey:{account_id}/{playbook}/{n}`; which one starts or is preempted is decided by the pure
rules in csrunner.domain.lifecycle. Signal handlers only queue; the main loop handles the queue in
order and continues-as-new, carrying one state object, before its history grows large.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Optional

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ChildWorkflowError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from csrunner.domain import lifecycle
    from csrunner.domain.definitions import PlaybookDefinition
    from csrunner.domain.journey_messages import (
        DealClosed,
        DealRecord,
        ExpansionSignal,
        JourneyEvent,
        JourneyInput,
        JourneyState,
        JourneyView,
        NpsAnswer,
        NpsRecord,
        PlayRun,
        ScoreUpdate,
    )
    from csrunner.domain.messages import EmailRequest, EmailResult, PlaybookInput, RunState
    from csrunner.domain.scoring import ScoringModel
    from workflows import common
    from workflows.playbook import PlaybookWorkflow
    from workflows.search_attributes import BAND

#: Reading the catalog / model files. Regular activities, not local ones: a local activity keeps
#: the workflow task open, and under a stream of signals that task kept failing.
READ = dict(start_to_close_timeout=timedelta(seconds=30), retry_policy=RetryPolicy(maximum_attempts=3))


@workflow.defn
class AccountJourneyWorkflow:
    @workflow.init
    def __init__(self, inp: JourneyInput) -> None:
        self.inp, self.rules = inp, lifecycle.RULES
        self.state = inp.state or JourneyState(account_id=inp.account_id)
        self.model: Optional[ScoringModel] = None
        self.signals = 0  # received by this run (Temporal allows 10,000 per run)
        self.onboarding_over, self.handling, self._timer, self._sa = False, False, False, ()

    @workflow.run
    async def run(self, inp: JourneyInput) -> None:
        st = self.state
        self.model = await self._load_model()
        self._hold_timer()
        self._publish()
        while True:
            await workflow.wait_condition(lambda: bool(st.inbox) or self.onboarding_over)
            handled = 0  # once continue-as-new is due, what is left (if little) travels in the state
            while st.inbox and not (self._continue_as_new_due() and len(st.inbox) <= self.rules.carry_max):
                self.handling = True
                await self._handle(st.inbox.pop(0))
                self.handling = False
                handled += 1
                if handled % self.rules.handle_per_task == 0:
                    # A backlog: end this workflow task (the SDK allows 2 s per task before it
                    # suspects a deadlock); counting makes the pause deterministic on replay.
                    await workflow.sleep(timedelta(milliseconds=1), summary="let the task end")
            if self.onboarding_over:
                self.onboarding_over = False
                await self._retention(speak=True)
            if self._continue_as_new_due():
                await workflow.wait_condition(workflow.all_handlers_finished)
                st.runs += 1
                workflow.continue_as_new(
                    JourneyInput(account_id=st.account_id, state=st, search_attributes=inp.search_attributes)
                )

    async def _load_model(self) -> ScoringModel:
        """Each run reads the then-current scoring model. If the file is broken the previous run's
        model goes on; without one, the journey waits (updates queue) and tries again."""
        st = self.state
        while True:
            try:
                st.model = await workflow.execute_activity(
                    "load_scoring_model", result_type=ScoringModel, **READ
                )
                return st.model
            except ActivityError as e:
                self._event("model_failed", f"scoring model not loaded: {common.reason(e)}")
                if st.model is not None:
                    return st.model
                await workflow.sleep(timedelta(minutes=10), summary="scoring model unavailable")

    def _continue_as_new_due(self) -> Optional[str]:
        info = workflow.info()
        return lifecycle.continue_as_new_reason(
            self.rules, info.get_current_history_length(), self.signals, info.is_continue_as_new_suggested()
        )

    # --- signals: queue only ------------------------------------------------------------------

    @workflow.signal
    def deal_closed(self, m: DealClosed) -> None:
        self._receive(m)

    @workflow.signal
    def score(self, m: ScoreUpdate) -> None:
        self._receive(m)

    @workflow.signal
    def nps(self, m: NpsAnswer) -> None:
        self._receive(m)

    @workflow.signal
    def expansion(self, m: ExpansionSignal) -> None:
        self._receive(m)

    def _receive(self, m) -> None:
        self.signals += 1
        lifecycle.receive(self.rules, self.state, m, workflow.now())

    # --- handling -----------------------------------------------------------------------------

    async def _handle(self, m) -> None:
        await {
            "deal_closed": self._deal,
            "score": self._score,
            "nps": self._nps,
            "expansion": self._expansion,
        }[m.kind](m)

    async def _deal(self, m: DealClosed) -> None:
        st, first = self.state, self.state.account is None
        st.account = m.account  # the latest CRM data, for plays started from now on
        if not first:
            return self._event(
                "deal_closed", f"deal {m.deal_id} closed; recorded (lifecycle already running)"
            )
        st.closed_at = m.closed_at
        self._event("deal_closed", f"deal {m.deal_id} closed: lifecycle started", {"deal_id": m.deal_id})
        onboarding = await self._start("onboarding", lifecycle.ONBOARDING, f"deal {m.deal_id} closed")
        if onboarding:
            st.onboarding_until = onboarding.ends_at
            self._hold_timer()
        await self._start("nps", lifecycle.NPS, "NPS survey on lifecycle days 45 and 90")
        st.inbox[0:0], st.waiting = st.waiting, []  # what arrived before the deal, in order

    async def _score(self, m: ScoreUpdate) -> None:
        st, now = self.state, workflow.now()
        try:
            a = lifecycle.assess(self.model, st.history, m, now)
        except ValueError as e:  # e.g. the model changed since the client checked it
            st.rejected += 1
            return self._event("rejected", f"update rejected, nothing applied: {e}", {"source": m.source})
        obs, band, fired, note = a.observation, a.band, a.fired, a.note
        prev, prev_rank = st.band, st.band_rank
        st.updates += 1
        st.score, st.band, st.band_rank, st.score_note = obs.score, band.name, band.rank, note
        st.metrics.update(m.metrics)
        st.last_update_at = m.at
        st.history = lifecycle.compact_history(
            [*st.history, obs], now, self.model.triggers.history_days(), self.rules.history_max
        )
        changed = band.name != prev
        if changed or fired:
            was = f", was {prev}" if prev and changed else ""
            self._event(
                "score",
                f"score {obs.score:g} ({band.name}{was})" + (f"; {note}" if note else ""),
                {"source": m.source, "update": st.updates},
            )
        if fired:
            st.last_triggers = fired
            await self._alert(fired, prev, m.source)
        for p in lifecycle.drop_preemptions(st.plays, prev_rank, band.rank, now):
            self._preempt(p, f"band fell from {prev} to {band.name}")
        await self._retention(speak=changed)
        if changed:
            self._publish()

    async def _retention(self, speak: bool) -> None:
        st, now = self.state, workflow.now()
        band = lifecycle.current_band(self.model, st)
        if band is None or st.account is None:
            return
        d = lifecycle.retention_decision(
            self.rules, st.plays, st.last_started, self.model.bands, band, now, st.onboarding_until
        )
        ask = (
            d.start == lifecycle.healthy_play(self.model.bands)
            and lifecycle.referral_due(self.rules, st.nps, st.metrics, st.referral_asked_at, now)[0]
        )
        if ask:  # the healthy play's referral / case-study email goes out with it
            st.referral_asked_at = now
        await self._apply(
            d,
            "retention",
            speak,
            band=band.name,
            score=st.score,
            referral_ask=ask,
            triggers=[t.name for t in st.last_triggers],
        )

    async def _nps(self, m: NpsAnswer) -> None:
        st, now = self.state, workflow.now()
        cat = lifecycle.nps_category(m.score)
        rec = NpsRecord(at=m.at, day=self._day(), score=m.score, category=cat, comment=m.comment)
        st.nps = [*st.nps, rec][-self.rules.nps_max :]
        self._event(
            "nps",
            f"NPS {m.score} ({cat}); account NPS {lifecycle.nps(a.score for a in st.nps):g}",
            {"comment": m.comment},
        )
        if cat == "detractor":
            d = lifecycle.recovery_decision(self.rules, st.plays, st.last_started, cat, now)
            await self._apply(d, "recovery", True, nps_score=m.score, nps_comment=m.comment)
        elif cat == "promoter":
            due, why = lifecycle.referral_due(self.rules, st.nps, st.metrics, st.referral_asked_at, now)
            if due:
                await self._referral(rec, why)
            else:
                self._event("referral", f"no referral ask: {why}")

    async def _expansion(self, m: ExpansionSignal) -> None:
        st = self.state
        st.expansion_signal = {"signal": m.signal, "detail": m.detail}
        self._event(
            "expansion_signal", f"expansion signal '{m.signal}'" + (f": {m.detail}" if m.detail else "")
        )
        d = lifecycle.expansion_decision(
            self.rules,
            st.plays,
            st.last_started,
            self.model.bands,
            lifecycle.current_band(self.model, st),
            workflow.now(),
            st.onboarding_until,
        )
        await self._apply(d, "expansion", True, signal=m.signal, detail=m.detail)

    # --- effects ------------------------------------------------------------------------------

    async def _apply(self, d: lifecycle.Decision, slot: str, speak: bool, **facts: Any) -> None:
        by_id = {p.workflow_id: p for p in self.state.plays}
        for wid in d.preempt:
            self._preempt(by_id[wid], d.note)
        if d.start:
            await self._start(slot, d.start, d.note, facts)
        elif not d.quiet and speak and not d.preempt:  # a preemption already says why
            self._event("decision", d.note)

    async def _start(
        self, slot: str, playbook: str, reason: str, facts: Optional[dict] = None
    ) -> Optional[PlayRun]:
        """A play as a child workflow, with the then-current published definitions."""
        st, now, me = self.state, workflow.now(), workflow.info().workflow_id
        try:
            defs = await workflow.execute_activity(
                "load_definitions", playbook, result_type=dict[str, PlaybookDefinition], **READ
            )
        except ActivityError as e:
            return self._event("play_failed", f"{playbook} not started: {common.reason(e)}")
        n = st.counters[playbook] = st.counters.get(playbook, 0) + 1
        wid, d = f"{me}/{playbook}/{n}", defs[playbook]
        first = RunState(
            playbook=d.id,
            version=d.version,
            content_hash=d.content_hash,
            started_at=now,
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
                ),
                id=wid,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            return self._event("play_failed", f"{playbook} not started: {wid} is already running")
        run = PlayRun(
            slot=slot,
            playbook=playbook,
            workflow_id=wid,
            n=n,
            started_at=now,
            ends_at=now + timedelta(days=lifecycle.span_days(defs, playbook)),
            reason=reason,
        )
        st.plays = lifecycle.keep_plays([*st.plays, run], self.rules.finished_plays_max)
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
        try:
            await handle
            status = "completed"
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
        severity, roles, alert, text = lifecycle.alert(fired, st.score, st.band, prev, self._day(), source)
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

    # --- helpers ------------------------------------------------------------------------------

    def _hold_timer(self) -> None:
        """Retention plays wait for onboarding to end; then the current band gets its play."""
        until = self.state.onboarding_until
        if until is None or until <= workflow.now() or self._timer:
            return
        self._timer = True

        async def wake() -> None:
            await workflow.sleep(until - workflow.now(), summary="onboarding ends")
            self.onboarding_over = True

        asyncio.create_task(wake())

    def _account(self):
        """The account as plays see it: its metrics plus score, band, triggers, NPS (templates)."""
        st = self.state
        extra = lifecycle.template_metrics(
            st.metrics, st.score, st.band, st.last_triggers, st.nps, st.expansion_signal
        )
        return st.account.model_copy(update={"metrics": {**st.account.metrics, **extra}})

    def _notifier(self) -> common.Notifier:
        return common.Notifier(self._account(), lambda name: f"{workflow.info().workflow_id}/{name}")

    def _ctx(self) -> dict:
        return lifecycle.run_context(self.state.closed_at, workflow.now(), workflow.info().workflow_id)

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
        values = lifecycle.search_values(self.state, workflow.now())
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

    @workflow.query
    def view(self) -> JourneyView:
        return lifecycle.view(
            self.state,
            workflow.info().workflow_id,
            workflow.now(),
            workflow.info().get_current_history_length(),
            len(self.state.inbox) + self.handling,
        )

    @workflow.query
    def deal(self, deal_id: str) -> Optional[DealRecord]:
        return self.state.deals.get(deal_id)
