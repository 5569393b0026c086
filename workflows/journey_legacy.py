"""The journey as the previous release ran it: rules evaluated in workflow code, the scoring model
loaded by an activity at each run's start, definitions loaded per play start.

Kept, unchanged in the commands it produces, for runs recorded before the patch
`journey-recorded-decisions` (workflows/journey.py): they replay through these methods. Their
rule values are pinned here (V1_RULES), so a rule change deployed today cannot alter what their
replay produces. Delete with the patch once no open run predates it (docs/changing-workflows.md).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Optional

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from csrunner.domain import journey_view, lifecycle
    from csrunner.domain.journey_messages import (
        DealClosed,
        ExpansionSignal,
        NpsAnswer,
        ScoreUpdate,
    )
    from csrunner.domain.scoring import ScoringModel
    from workflows import common
    from workflows.journey_effects import JourneyEffects

#: Reading the catalog / model files. Regular activities, not local ones: a local activity keeps
#: the workflow task open, and under a stream of signals that task kept failing.
READ_TIMEOUT, READ_RETRY = timedelta(seconds=30), RetryPolicy(maximum_attempts=3)

#: The lifecycle rules of the previous release, value by value: never edit (see module doc).
V1_RULES = lifecycle.LifecycleRules(
    cooldown_days=14,
    recovery_cooldown_days=14,
    expansion_cooldown_days=28,
    referral_cooldown_days=90,
    promoter_valid_days=120,
    measurable_roi_pct=100,
    history_max=40,
    timeline_max=200,
    finished_plays_max=30,
    nps_max=24,
    waiting_max=100,
    history_budget=2000,
    signal_budget=1500,
    handle_per_task=500,
    carry_max=1000,
)


class LegacyHandlers(JourneyEffects):
    """Base of AccountJourneyWorkflow: the v1 handlers (see the module doc)."""

    model: Optional[ScoringModel]

    async def _load_model(self) -> ScoringModel:
        """Each run reads the then-current scoring model. If the file is broken the previous run's
        model goes on; without one, the journey waits (updates queue) and tries again."""
        st = self.state
        while True:
            try:
                st.model = await workflow.execute_activity(
                    "load_scoring_model",
                    result_type=ScoringModel,
                    start_to_close_timeout=READ_TIMEOUT,
                    retry_policy=READ_RETRY,
                )
                return st.model
            except ActivityError as e:
                self._event("model_failed", f"scoring model not loaded: {common.reason(e)}")
                if st.model is not None:
                    return st.model
                await workflow.sleep(timedelta(minutes=10), summary="scoring model unavailable")

    async def _deal_v1(self, m: DealClosed) -> None:
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

    async def _score_v1(self, m: ScoreUpdate) -> None:
        st, now, model = self.state, workflow.now(), self.model
        assert model is not None
        try:
            a = lifecycle.assess(model, st.history, m, now)
        except ValueError as e:  # e.g. the model changed since the client checked it
            st.rejected += 1
            return self._event("rejected", f"update rejected, nothing applied: {e}", {"source": m.source})
        obs, band, fired, note = a.observation, a.band, a.fired, a.note
        prev, prev_rank = st.band, st.band_rank
        st.updates += 1
        st.score, st.band, st.band_rank, st.score_note = obs.score, band.name, band.rank, note
        st.metrics.update(m.metrics)
        st.last_update_at = m.at
        st.history = journey_view.compact_history(
            [*st.history, obs], now, model.triggers.history_days(), self.rules.history_max
        )
        changed = band.name != prev
        self._score_event(obs.score, band.name, prev, changed, fired, note, m.source)
        if fired:
            st.last_triggers = fired
            await self._alert(fired, prev, m.source)
        for p in lifecycle.drop_preemptions(st.plays, prev_rank, band.rank, now):
            self._preempt(p, f"band fell from {prev} to {band.name}")
        await self._retention_v1(speak=changed)
        if changed:
            self._publish()

    async def _retention_v1(self, speak: bool) -> None:
        st, now, model = self.state, workflow.now(), self.model
        assert model is not None
        band = lifecycle.current_band(model, st)
        if band is None or st.account is None:
            return
        d = lifecycle.retention_decision(
            self.rules, st.plays, st.last_started, model.bands, band, now, st.onboarding_until
        )
        ask = (
            d.start == lifecycle.healthy_play(model.bands)
            and lifecycle.referral_due(self.rules, st.nps, st.metrics, st.referral_asked_at, now)[0]
        )
        if ask:  # the healthy play's referral / case-study email goes out with it
            st.referral_asked_at = now
        facts = dict(
            band=band.name, score=st.score, referral_ask=ask, triggers=[t.name for t in st.last_triggers]
        )
        await self._apply(d, "retention", speak, facts)

    async def _nps_v1(self, m: NpsAnswer) -> None:
        st, now = self.state, workflow.now()
        cat = lifecycle.nps_category(m.score)
        rec = self._nps_record(m, cat)
        if cat == "detractor":
            d = lifecycle.recovery_decision(self.rules, st.plays, st.last_started, cat, now)
            await self._apply(d, "recovery", True, dict(nps_score=m.score, nps_comment=m.comment))
        elif cat == "promoter":
            due, why = lifecycle.referral_due(self.rules, st.nps, st.metrics, st.referral_asked_at, now)
            if due:
                await self._referral(rec, why)
            else:
                self._event("referral", f"no referral ask: {why}")

    async def _expansion_v1(self, m: ExpansionSignal) -> None:
        st, model = self.state, self.model
        assert model is not None
        self._expansion_event(m)
        d = lifecycle.expansion_decision(
            self.rules,
            st.plays,
            st.last_started,
            model.bands,
            lifecycle.current_band(model, st),
            workflow.now(),
            st.onboarding_until,
        )
        await self._apply(d, "expansion", True, dict(signal=m.signal, detail=m.detail))
