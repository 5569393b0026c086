"""The account journey's own timers, held as asyncio tasks beside its main loop (workflows/journey.py):
each sets a flag the loop wakes on. A timer is armed again by the next run after continue-as-new
from what the state carries (`onboarding_until`, `nps_due_at`)."""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from csrunner.domain.journey_messages import JourneyState


class JourneyTimers:
    """A base of JourneyEffects (and so of AccountJourneyWorkflow)."""

    state: JourneyState
    _timer: bool
    onboarding_over: bool
    #: the NPS survey the journey holds is due: the main loop starts it (patch
    #: `nps-scheduled-by-journey`, workflows/journey_recorded.py)
    nps_due: bool = False
    _nps_timer_armed: bool = False

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

    def _nps_timer(self) -> None:
        """The NPS survey the journey holds starts when its first step is due (at once when that
        time has passed, e.g. a run that continued-as-new just then)."""
        due = self.state.nps_due_at
        if due is None or self._nps_timer_armed:
            return
        self._nps_timer_armed = True
        if due <= workflow.now():
            self.nps_due = True
            return

        async def wake() -> None:
            await workflow.sleep(due - workflow.now(), summary="NPS survey due")
            self.nps_due = True

        asyncio.create_task(wake())
