"""A closed-won HubSpot deal → the account's journey, however long HubSpot is away.

The webhook only starts this workflow (id `hubspot-deal:{portal}:{deal}`), so HubSpot gets its 2xx
once the deal is durable in Temporal. Here the deal is read (retried with backoff for days while
HubSpot is down), then the journey gets `deal_closed` by signal-with-start. A deal that cannot
become an account (no contact with an email, no CSM) becomes a task card for a person instead."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError, RetryState, TimeoutError

with workflow.unsafe.imports_passed_through():
    from csrunner.domain.deal_intake import (
        DealAccount,
        DealIntakeInput,
        DealIntakeResult,
        IntakeProblem,
        JourneyStart,
        JourneyStarted,
    )

#: How long a deal waits for HubSpot (it retries its own webhook for about a day).
PATIENCE = timedelta(days=7)
#: Seconds after the first failure, doubling to 5 minutes (a Retry-After from HubSpot wins).
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2, maximum_interval=timedelta(minutes=5)
)


def _why(e: ActivityError) -> str:
    """The activity's own message (e.g. 'deal 7: no CSM ...'), or how long it was tried and its
    last failure when HubSpot never came back."""
    chain: list[BaseException] = []
    cause = e.cause
    while cause is not None:
        chain.append(cause)
        cause = cause.cause if isinstance(cause, FailureError) else None
    last = next((c for c in reversed(chain) if isinstance(c, ApplicationError)), None)
    said = last.message if last else (str(chain[-1]) if chain else str(e))
    if e.retry_state == RetryState.TIMEOUT or any(isinstance(c, TimeoutError) for c in chain):
        return f"HubSpot could not be read within {PATIENCE.days} days (last: {said or 'no answer'})"
    return said


@workflow.defn
class DealIntakeWorkflow:
    @workflow.run
    async def run(self, inp: DealIntakeInput) -> DealIntakeResult:
        key = workflow.info().workflow_id
        try:
            found = await workflow.execute_activity(
                "hubspot_deal_account",
                inp,
                result_type=DealAccount,
                start_to_close_timeout=timedelta(minutes=1),
                schedule_to_close_timeout=PATIENCE,
                retry_policy=RETRY,
            )
            started = await workflow.execute_activity(
                "journey_deal_closed",
                JourneyStart(
                    account=found.account, deal_id=inp.deal_id, closed_at=found.closed_at, token=key
                ),
                result_type=JourneyStarted,
                start_to_close_timeout=timedelta(minutes=1),
                schedule_to_close_timeout=PATIENCE,
                retry_policy=RETRY,
            )
        except ActivityError as e:
            return await self._needs_attention(inp, key, _why(e))
        return DealIntakeResult(
            deal_id=inp.deal_id,
            outcome="started" if started.started else "duplicate",
            account_id=found.account.id,
            journey_id=started.workflow_id,
            notes=found.notes,
        )

    async def _needs_attention(self, inp: DealIntakeInput, key: str, why: str) -> DealIntakeResult:
        workflow.logger.warning("HubSpot deal %s needs a person: %s", inp.deal_id, why)
        task = await workflow.execute_activity(
            "hubspot_intake_task",
            IntakeProblem(key=f"{key}:problem", deal_id=inp.deal_id, problem=why[:2000]),
            result_type=str,
            start_to_close_timeout=timedelta(seconds=30),
        )
        return DealIntakeResult(deal_id=inp.deal_id, outcome="needs_attention", problem=why, task=task)
