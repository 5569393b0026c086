"""The journey's handlers with recorded decisions (patch `journey-recorded-decisions`): each asks
the `journey_decide` activity (`journey_decide_scores` for the score updates queued at the head,
in one call) and applies the recorded answer. A base of AccountJourneyWorkflow (workflows/journey.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Optional

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from csrunner.domain import lifecycle
    from csrunner.domain.journey_messages import DealClosed, ExpansionSignal, NpsAnswer, ScoreUpdate
    from csrunner.domain.journey_rules import Kind, Outcome, PlayStart, RuleRequest
    from csrunner.domain.messages import Schedule, ScheduleRequest
    from csrunner.domain.read_model import AccountRowWrite
    from workflows import common
    from workflows.journey_legacy import LegacyHandlers

#: A regular activity, not a local one: a workflow task holding local activities stays open, and
#: under a stream of signals on a busy worker such tasks timed out and replayed in a loop. Queued
#: score updates share one call, so this costs one activity per run of updates, not per update.
#: Retried with backoff until it answers (a broken scoring model waits for a fix, updates queue).
DECIDE_TIMEOUT = timedelta(seconds=10)
DECIDE_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=10))
SCORE_RUN = 100  # score updates decided in one call at most (bounds the recorded answer)
#: The journey holds the NPS survey itself and starts its play only when its first step is due
#: (day 45), instead of a play sleeping from day 0 (issue 9).
NPS_SCHEDULED = "nps-scheduled-by-journey"
#: Updates that bring only account facts (no score, no metrics) at the head of the queue are
#: applied without asking `journey_decide_scores`: there is nothing to decide.
FACTS_UNDECIDED = "journey-facts-without-decision"


class RecordedHandlers(LegacyHandlers):
    current: object

    def _patched(self, patch: str) -> bool:
        """A run started at JOURNEY_VERSION 1 has every patch up to FACTS_UNDECIDED without
        asking (journey_messages.JOURNEY_VERSION); a run recorded before asks."""
        return self.inp.version >= 1 or workflow.patched(patch)

    def _last_row(self) -> Optional[AccountRowWrite]:
        """The dashboard row this run last wrote (workflows/journey_row.py)."""
        return None

    def _row_written(self, w: AccountRowWrite) -> None:
        """`journey_decide_scores` wrote the row for the journey (workflows/journey_row.py)."""

    def _request(self, kind: Kind, m=None, messages=(), row: Optional[AccountRowWrite] = None) -> RuleRequest:
        st = self.state
        slim = st.model_copy(
            update=dict(
                inbox=[],
                waiting=[],
                timeline=[],
                account=None,
                deals={},
                model=None,
                published=[],
                batches=[],
                nps_definitions={},
            )
        )
        return RuleRequest(
            kind=kind,
            state=slim,
            has_account=st.account is not None,
            message=m,
            messages=list(messages),
            now=workflow.now(),
            row=row,
        )

    async def _decide(self, kind: Kind, m=None) -> Outcome:
        """The rules as the worker has them now, on the state as it is (the answer is recorded)."""
        out = await workflow.execute_activity(
            "journey_decide",
            self._request(kind, m),
            result_type=Outcome,
            start_to_close_timeout=DECIDE_TIMEOUT,
            retry_policy=DECIDE_RETRY,
        )
        self._hashes(out)
        return out

    async def _score_run(self) -> int:
        """The score updates at the head of the queue, decided in one call (up to the first with
        effects), then applied one by one; returns how many were handled."""
        st = self.state
        run = []
        for m in st.inbox[:SCORE_RUN]:
            if m.kind != "score":
                break
            run.append(m)
        if run[0].facts_only() and self._patched(FACTS_UNDECIDED):
            n = 0
            while n < len(run) and run[n].facts_only():
                self.current = st.inbox.pop(0)  # run[n]
                self._take_facts(run[n])
                n += 1
            return n
        outs = await workflow.execute_activity(
            "journey_decide_scores",
            self._request("score", messages=run, row=self._last_row()),
            result_type=list[Outcome],
            start_to_close_timeout=DECIDE_TIMEOUT,
            retry_policy=DECIDE_RETRY,
        )
        self._hashes(outs[0])
        for m, out in zip(run, outs, strict=False):  # the answer may stop early
            self.current = st.inbox.pop(0)  # m: only this loop takes from the queue's head
            await self._score(m, out)
        if outs[-1].row is not None:  # recorded: answers of the release before have none
            self._row_written(outs[-1].row)
        return len(outs)

    def _hashes(self, out: Outcome) -> None:
        st = self.state
        if out.model_hash != st.model_hash or out.rules_hash != st.rules_hash:
            if st.model_hash:  # not on the first decision
                self._event(
                    "rules",
                    f"decided with scoring model {out.model_hash} and rules {out.rules_hash} "
                    f"(was {st.model_hash} / {st.rules_hash})",
                )
            st.model_hash, st.rules_hash = out.model_hash, out.rules_hash

    async def _deal(self, m: DealClosed) -> None:
        st, first = self.state, self.state.account is None
        st.account = m.account  # the latest CRM data, for plays started from now on
        if not first:
            return self._event(
                "deal_closed", f"deal {m.deal_id} closed; recorded (lifecycle already running)"
            )
        st.closed_at = m.closed_at
        self._event("deal_closed", f"deal {m.deal_id} closed: lifecycle started", {"deal_id": m.deal_id})
        plays = {p.slot: p for p in (await self._decide("deal")).starts}
        onboarding = await self._start(
            "onboarding", lifecycle.ONBOARDING, f"deal {m.deal_id} closed", play=plays["onboarding"]
        )
        if onboarding:
            st.onboarding_until = onboarding.ends_at
            self._hold_timer()
        if self._patched(NPS_SCHEDULED):
            await self._schedule_nps(plays["nps"])
        else:
            await self._start("nps", lifecycle.NPS, plays["nps"].reason, play=plays["nps"])
        st.inbox[0:0], st.waiting = st.waiting, []  # what arrived before the deal, in order

    async def _score(self, m: ScoreUpdate, out: Outcome) -> None:
        st = self.state
        if self._take_facts(m):
            return  # facts only: nothing to score
        if out.error or out.observation is None or out.band is None:
            st.rejected += 1
            return self._event(
                "rejected", f"update rejected, nothing applied: {out.error}", {"source": m.source}
            )
        obs, band, fired = out.observation, out.band, out.fired
        prev = st.band
        items = [*st.history, obs]
        st.updates += 1
        st.score, st.band, st.band_rank, st.score_note = obs.score, band.name, band.rank, out.note
        st.metrics.update(m.metrics)
        st.last_update_at = m.at
        st.history = [items[i] for i in out.history_keep]
        changed = band.name != prev
        self._score_event(obs.score, band.name, prev, changed, fired, out.note, m.source)
        if fired:
            st.last_triggers = fired
            await self._alert(fired, prev, m.source)
        by_id = {p.workflow_id: p for p in st.plays}
        for wid in out.drop:
            self._preempt(by_id[wid], f"band fell from {prev} to {band.name}")
        await self._decided_retention(out, changed)
        if changed:
            self._publish()

    async def _retention(self, speak: bool) -> None:
        await self._decided_retention(await self._decide("retention"), speak)

    async def _decided_retention(self, out: Outcome, speak: bool) -> None:
        st = self.state
        if out.decision is None:
            return
        if out.referral_ask:  # the healthy play's referral / case-study email goes out with it
            st.referral_asked_at = workflow.now()
        facts = dict(
            band=out.band.name if out.band else st.band,
            score=st.score,
            referral_ask=out.referral_ask,
            triggers=[t.name for t in st.last_triggers],
        )
        await self._apply(out.decision, "retention", speak, facts, out.starts)

    async def _nps(self, m: NpsAnswer) -> None:
        out = await self._decide("nps", m)
        rec = self._nps_record(m, out.category)
        if out.category == "detractor" and out.decision is not None:
            facts = dict(nps_score=m.score, nps_comment=m.comment)
            await self._apply(out.decision, "recovery", True, facts, out.starts)
        elif out.category == "promoter":
            if out.referral_due:
                await self._referral(rec, out.referral_why)
            else:
                self._event("referral", f"no referral ask: {out.referral_why}")

    async def _expansion(self, m: ExpansionSignal) -> None:
        self._expansion_event(m)
        out = await self._decide("expansion", m)
        if out.decision is not None:
            facts = dict(signal=m.signal, detail=m.detail)
            await self._apply(out.decision, "expansion", True, facts, out.starts)

    # --- the NPS survey, held by the journey until it is due (patch NPS_SCHEDULED) ------------

    async def _schedule_nps(self, play: PlayStart) -> None:
        """Plan the survey from now, as its play would if started now, and hold it until its
        first step is due (the state carries it over continue-as-new; `_nps_timer` wakes the loop).
        Without a plan (the catalog or the planner failed) the play starts now, as before."""
        st, clock = self.state, workflow.now()
        d = play.definitions.get(play.playbook)
        if play.error or d is None or st.account is None:
            await self._start(play.slot, play.playbook, play.reason, play=play)
            return
        req = ScheduleRequest.of(d, st.account.timezone, clock)
        try:
            plan = await workflow.execute_activity(
                "plan_schedule",
                req,
                result_type=Schedule,
                start_to_close_timeout=DECIDE_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        except ActivityError as e:
            self._event("nps_schedule_failed", f"NPS survey not scheduled ({common.reason(e)}): starts now")
            await self._start(play.slot, play.playbook, play.reason, play=play)
            return
        due = min(plan.steps.values(), default=clock)
        st.nps_due_at, st.nps_clock, st.nps_reason = due, clock, play.reason
        st.nps_definitions = play.definitions
        self._event(
            "play_scheduled",
            f"NPS survey scheduled for {due:%a %d %b %Y, %H:%M} UTC (lifecycle day {self._day_at(due)}): "
            f"{play.playbook} starts then",
            {"playbook": play.playbook, "due_at": due.isoformat()},
        )
        self._nps_timer()

    async def _start_scheduled_nps(self) -> None:
        """The held survey is due: its play starts once, its days counted from when it was planned."""
        st = self.state
        due, clock, defs, reason = st.nps_due_at, st.nps_clock, st.nps_definitions, st.nps_reason
        st.nps_due_at, st.nps_clock, st.nps_reason, st.nps_definitions = None, None, "", {}
        if due is None or clock is None:
            return
        play = PlayStart(
            slot="nps",
            playbook=lifecycle.NPS,
            reason=reason,
            definitions=defs,
            span_days=lifecycle.span_days(defs, lifecycle.NPS),
        )
        await self._start("nps", lifecycle.NPS, reason, play=play, clock=clock)

    def _day_at(self, at) -> Optional[int]:
        return lifecycle.lifecycle_day(self.state.closed_at, at)
