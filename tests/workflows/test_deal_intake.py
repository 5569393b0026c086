"""The deal intake on the time-skipping server, its activities replaced: HubSpot away for a week
ends in a task, a deal that cannot be mapped ends in a task without a journey, a readable deal
starts the journey with a token stable across retries, and the history replays."""

from __future__ import annotations

import uuid
from datetime import timedelta

from support import acme
from temporalio import activity
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker

from activities.errors import permanent, transient
from csrunner.domain.deal_intake import (
    DealAccount,
    DealIntakeInput,
    DealIntakeResult,
    IntakeProblem,
    JourneyStart,
    JourneyStarted,
    intake_id,
)
from workflows.deal_intake import DealIntakeWorkflow


class Fakes:
    def __init__(self, read):
        self.read, self.starts, self.tasks, self.attempts = read, [], [], 0

    @activity.defn(name="hubspot_deal_account")
    async def deal_account(self, inp: DealIntakeInput) -> DealAccount:
        self.attempts += 1
        return self.read(self.attempts)

    @activity.defn(name="journey_deal_closed")
    async def deal_closed(self, req: JourneyStart) -> JourneyStarted:
        self.starts.append(req)
        if len(self.starts) == 1:  # the first start is cut off: the retry must carry the same token
            raise transient("Temporal busy")
        return JourneyStarted(workflow_id=f"journey:{req.account.id}", started=True)

    @activity.defn(name="hubspot_intake_task")
    async def intake_task(self, p: IntakeProblem) -> str:
        self.tasks.append(p)
        return p.key


async def _intake(env, fakes: Fakes) -> tuple[DealIntakeResult, str]:
    queue, deal = f"tq-{uuid.uuid4().hex}", str(uuid.uuid4().int % 10**8)
    acts = [fakes.deal_account, fakes.deal_closed, fakes.intake_task]
    async with Worker(env.client, task_queue=queue, workflows=[DealIntakeWorkflow], activities=acts):
        handle = await env.client.start_workflow(
            DealIntakeWorkflow.run,
            DealIntakeInput(deal_id=deal, portal_id=42),
            id=intake_id(42, deal),
            task_queue=queue,
            result_type=DealIntakeResult,
        )
        return await handle.result(), handle.id


async def test_a_readable_deal_starts_the_journey_with_one_token(env):
    found = DealAccount(account=acme(), notes=["deal 7: unknown time zone 'x'"])

    def read(attempt: int) -> DealAccount:
        if attempt < 3:  # HubSpot down twice, Retry-After an hour
            raise transient("HubSpot on /crm/v3/objects/deals/7: 503", retry_after=3600)
        return found

    fakes = Fakes(read)
    result, wid = await _intake(env, fakes)
    assert result.outcome == "started" and result.journey_id == f"journey:{acme().id}"
    assert result.notes == found.notes and fakes.attempts == 3 and fakes.tasks == []
    assert [s.token for s in fakes.starts] == [wid, wid]
    history = await env.client.get_workflow_handle(wid).fetch_history()
    await Replayer(workflows=[DealIntakeWorkflow], data_converter=pydantic_data_converter).replay_workflow(
        history
    )


async def test_hubspot_away_for_a_week_ends_in_a_task(env):
    def read(attempt: int) -> DealAccount:
        raise transient(
            "HubSpot unreachable: connection refused", retry_after=timedelta(days=1).total_seconds()
        )

    fakes = Fakes(read)
    result, wid = await _intake(env, fakes)
    assert result.outcome == "needs_attention" and fakes.starts == []
    assert [t.key for t in fakes.tasks] == [f"{wid}:problem"] and result.task == f"{wid}:problem"
    assert 5 <= fakes.attempts <= 8  # a day apart, for the 7 days the intake waits
    assert (
        result.problem
        == "HubSpot could not be read within 7 days (last: HubSpot unreachable: connection refused)"
    )


async def test_a_deal_that_cannot_be_mapped_ends_in_a_task_and_no_journey(env):
    def read(attempt: int) -> DealAccount:
        raise permanent("deal 7: no associated contact with an email address")

    fakes = Fakes(read)
    result, _ = await _intake(env, fakes)
    assert result.outcome == "needs_attention" and fakes.attempts == 1 and fakes.starts == []
    assert result.problem == "deal 7: no associated contact with an email address"
    assert fakes.tasks[0].problem == result.problem
