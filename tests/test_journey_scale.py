"""20,000 score updates to one account: the journey continues-as-new, loses no update, keeps its
state, and no run's history comes near Temporal's limits (10,000 signals per run, 10,240-event
warning)."""
from __future__ import annotations

import asyncio
import time

from temporalio.service import RPCError

from csrunner import journeys
from csrunner.lifecycle import RULES
from worker import build_worker

from test_journey_support import account, settings_for

UPDATES = 20_000
BATCH = 1000


async def run_lengths(client, workflow_id: str) -> list[int]:
    """History events of every run of the workflow id, first run first (walks continue-as-new
    back from the latest run)."""
    lengths, run_id = [], None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        lengths.append(len(history.events))
        started = history.events[0].workflow_execution_started_event_attributes
        if not started.continued_execution_run_id:
            return lengths[::-1]
        run_id = started.continued_execution_run_id


async def caught_up(client, account_id: str, updates: int):
    while True:
        try:
            view = await journeys.journey_view(client, account_id)
            if view.updates >= updates and not view.queued:
                return view
        except RPCError:  # the query raced a continue-as-new
            pass
        await asyncio.sleep(0.05)


async def test_20000_score_updates_to_one_account(env, tmp_path):
    settings = settings_for(tmp_path)
    client, acc = env.client, account("bulk-1")
    began = time.monotonic()
    async with build_worker(client, settings):
        wid, _ = await journeys.deal_closed(client, settings, acc, "deal-bulk-1")
        sent = 0
        while sent < UPDATES - 1:
            # a feed sending BATCH updates at once, then waiting until the journey has them applied
            n = min(BATCH, UPDATES - 1 - sent)
            await asyncio.gather(*(journeys.push_score(client, settings, acc.id, score=85 + (sent + i) % 10)
                                   for i in range(n)))
            sent += n
            # A feed with backpressure: at most ~2 batches ahead of the journey. (Thousands of
            # signals landing in one workflow task exceed the SDK's 2-second deadlock limit.)
            while (await journeys.journey_view(client, acc.id)).queued > BATCH:
                await asyncio.sleep(0.05)
            await caught_up(client, acc.id, sent)
        await journeys.push_score(client, settings, acc.id, score=91.5, source="the last one")
        view = await caught_up(client, acc.id, UPDATES)
        lengths = await run_lengths(client, wid)
    took = time.monotonic() - began
    print(f"\n{UPDATES} updates in {took:.1f} s ({UPDATES / took:.0f}/s); {len(lengths)} runs; "
          f"history events per run: {lengths}")
    assert view.updates == UPDATES and view.received == UPDATES + 1  # + the deal
    assert (view.score, view.band, view.rejected, view.queued) == (91.5, "healthy", 0, 0)
    # state kept across runs: the account, its deal, its plays, its counters
    assert view.account_name == acc.name and [d.deal_id for d in view.deals] == ["deal-bulk-1"]
    assert [p.workflow_id for p in view.plays] == ["journey:bulk-1/onboarding/1", "journey:bulk-1/nps/1"]
    assert view.plays_started == 2 and view.alerts == 0
    assert view.runs == len(lengths) > 1
    assert len(view.metrics) == 0 and len(view.timeline) < RULES.timeline_max
    assert max(lengths) < 10_000
    assert max(lengths[:-1]) <= RULES.history_budget + 2 * BATCH  # a run stops soon after its budget
