"""The account journey: one long-lived workflow per account, id `journey:{account_id}`.

Started by signal-with-start (the deal closing, or the first update for the account), so nothing
sent to it is lost. It runs onboarding (which hands over to scaling) and the NPS survey, then
reacts to what it receives: health scores and metrics, NPS answers and expansion signals. Plays
are PlaybookWorkflow children `journey:{account_id}/{playbook}/{n}`. Signal handlers only queue;
the main loop handles the queue in order and continues-as-new, carrying one state object, before
its history grows large.

Decisions are recorded, not recomputed: what an update means (score and band from the model,
triggers fired, which play starts or is preempted, cool-downs) is the answer of the
`journey_decide` activity, which lands in history. Replay reads it back, so a rule or
model change deployed while journeys run applies to their next update and never breaks a replay.
Runs recorded before that (no `journey-recorded-decisions` marker) replay through
workflows/journey_legacy.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Optional

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from csrunner.domain import journey_view, lifecycle, read_model
    from csrunner.domain.journey_messages import (
        JOURNEY_VERSION,
        Applied,
        DealClosed,
        DealRecord,
        ExpansionSignal,
        JourneyInput,
        JourneyState,
        JourneyView,
        NpsAnswer,
        ScoreBatch,
        ScoreUpdate,
    )
    from workflows.journey_legacy import V1_RULES
    from workflows.journey_recorded import RecordedHandlers
    from workflows.journey_row import JourneyRow

RECORDED = "journey-recorded-decisions"
#: Updates handled per workflow task before it yields (a 1 ms timer): a busy worker must still
#: finish each task well inside its 10 s timeout.
PER_TASK = 100


@workflow.defn
class AccountJourneyWorkflow(JourneyRow, RecordedHandlers):
    @workflow.init
    def __init__(self, inp: JourneyInput) -> None:
        # The loop's own limits (budgets, sizes) shape its commands: workflow code, pinned.
        self.inp, self.rules = inp, V1_RULES
        self.state = inp.state or JourneyState(account_id=inp.account_id)
        self.model = None
        self.recorded = False  # decisions from `journey_decide` (set in run)
        self.signals = 0  # received by this run (Temporal allows 10,000 per run)
        self.onboarding_over, self.handling, self._timer = False, False, False
        self.current: object = None  # the message being handled
        self.waiters = 0  # `apply` updates waiting for their batch to be handled
        self._sa: tuple = tuple(self.state.published)

    @workflow.run
    async def run(self, inp: JourneyInput) -> None:
        st = self.state
        self.recorded = self._patched(RECORDED)
        if self.recorded:
            st.model = None  # the worker holds the model now; the state travels small
        else:
            self._sa = ()
            self.model = await self._load_model()
        self._hold_timer()
        self._nps_timer()
        self._publish()
        if inp.version >= 1:
            self.row_to = "store"
        elif inp.search_attributes and workflow.patched(read_model.PATCH):
            self.row_to = "memo"
            await self._publish_row()  # (before the first message, as recorded)
        await self._row_start()
        while True:
            await workflow.wait_condition(
                lambda: bool(st.inbox) or self.onboarding_over or self.nps_due or self._plays_moved()
            )
            handled = paused = 0  # once continue-as-new is due, what is left (if little) travels
            while st.inbox and not (
                self._continue_as_new_due() and len(st.inbox) <= self.rules.carry_max and not self.waiters
            ):
                self.handling = True
                if self.recorded and st.inbox[0].kind == "score":
                    handled += await self._score_run()
                else:
                    self.current = st.inbox.pop(0)
                    await self._handle(self.current)
                    handled += 1
                self.handling, self.current = False, None
                if handled - paused >= (PER_TASK if self.recorded else self.rules.handle_per_task):
                    paused = handled
                    # A backlog: end this workflow task (the SDK allows 2 s per task before it
                    # suspects a deadlock); counting makes the pause deterministic on replay.
                    await workflow.sleep(timedelta(milliseconds=1), summary="let the task end")
            if self.onboarding_over:
                self.onboarding_over = False
                await (self._retention(speak=True) if self.recorded else self._retention_v1(speak=True))
            if self.nps_due:  # only runs since the patch nps-scheduled-by-journey hold the survey
                self.nps_due = False
                await self._start_scheduled_nps()
            await self._publish_row()
            if self._continue_as_new_due():
                await workflow.wait_condition(workflow.all_handlers_finished)
                st.runs += 1
                st.published = list(self._sa) if self.recorded else []
                workflow.continue_as_new(
                    JourneyInput(
                        account_id=st.account_id,
                        state=st,
                        search_attributes=inp.search_attributes,
                        version=JOURNEY_VERSION,  # the next run is new: this release's code
                    )
                )

    def _continue_as_new_due(self) -> Optional[str]:
        info = workflow.info()
        return journey_view.continue_as_new_reason(
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

    @workflow.signal
    def scores(self, b: ScoreBatch) -> None:
        self._take(b)

    @workflow.update
    async def apply(self, b: ScoreBatch) -> Applied:
        """A batch of updates, answered once the journey has handled all of it (sent with
        update-with-start by the CSV import and the batch feed: no polling)."""
        st = self.state
        band, updates, rejected, alerts = st.band, st.updates, st.rejected, st.alerts
        known = {p.workflow_id for p in st.plays}
        out = Applied(account_id=st.account_id, batch_id=b.batch_id, band_before=band)
        mine = self._take(b)
        if mine is None:
            return out.model_copy(update={"duplicate": True, "band": st.band, "score": st.score})
        if not mine:
            return out.model_copy(update={"waiting_for_deal": True})
        ids = {id(m) for m in mine}
        self.waiters += 1
        try:
            await workflow.wait_condition(
                lambda: id(self.current) not in ids and not any(id(m) in ids for m in st.inbox)
            )
        finally:
            self.waiters -= 1
        return out.model_copy(
            update={
                "band": st.band,
                "score": st.score,
                "updates": st.updates - updates,
                "rejected": st.rejected - rejected,
                "alerts": st.alerts - alerts,
                "plays_started": [p.workflow_id for p in st.plays if p.workflow_id not in known],
            }
        )

    def _take(self, b: ScoreBatch) -> Optional[list]:
        """Queue a batch (one signal's worth); None when this batch id was already received.
        Returns the queued messages (none when they wait for the deal)."""
        st = self.state
        if b.batch_id in st.batches:
            return None
        st.batches = [*st.batches, b.batch_id][-100:]
        self.signals += 1
        mine = []
        for u in b.updates:
            n = len(st.inbox)
            lifecycle.receive(self.rules, st, u, workflow.now())
            if len(st.inbox) > n:
                mine.append(st.inbox[-1])
        return mine

    # --- handling -----------------------------------------------------------------------------

    async def _handle(self, m) -> None:
        if self._take_facts(m):
            return  # facts only: nothing to score
        handlers: dict[str, Callable[[Any], Awaitable[None]]] = (
            {"deal_closed": self._deal, "nps": self._nps, "expansion": self._expansion}
            if self.recorded
            else {
                "deal_closed": self._deal_v1,
                "score": self._score_v1,
                "nps": self._nps_v1,
                "expansion": self._expansion_v1,
            }
        )
        await handlers[m.kind](m)

    @workflow.query
    def view(self) -> JourneyView:
        return journey_view.view(
            self.state,
            workflow.info().workflow_id,
            workflow.now(),
            workflow.info().get_current_history_length(),
            len(self.state.inbox) + self.handling,
        )

    @workflow.query
    def deal(self, deal_id: str) -> Optional[DealRecord]:
        return self.state.deals.get(deal_id)
