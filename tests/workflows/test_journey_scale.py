"""20,000 score updates to one account: the journey continues-as-new, loses no update, keeps its
state, and no run's history comes near Temporal's limits (10,000 signals per run, 10,240-event
warning)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from journey_support import account, journey_worker, run_histories, settings_for
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.worker import Replayer

from csrunner.domain.lifecycle import RULES
from csrunner.services import journeys
from workflows.journey import AccountJourneyWorkflow

UPDATES = 20_000
BATCH = 1000


async def caught_up(client, account_id: str, updates: int):
    """Wait until the journey has applied `updates` updates. A query that lands on a run just
    continued-as-new is never answered by the test server: give up on it after 2 s and ask again."""
    handle = client.get_workflow_handle(journeys.journey_id(account_id))
    while True:
        try:
            view = await handle.query(AccountJourneyWorkflow.view, rpc_timeout=timedelta(seconds=2))
            if view.updates >= updates and not view.queued:
                return view
        except RPCError:
            pass
        await asyncio.sleep(0.05)


async def test_20000_score_updates_to_one_account(env, tmp_path):
    settings = settings_for(tmp_path)
    client, acc = env.client, account("bulk-1")
    began = time.monotonic()
    async with journey_worker(client, settings, acc.id):
        wid, _ = await journeys.deal_closed(client, settings, acc, "deal-bulk-1")
        sent = 0
        while sent < UPDATES - 1:
            # a feed sending BATCH updates at once, then waiting until the journey has them applied
            n = min(BATCH, UPDATES - 1 - sent)
            await asyncio.gather(
                *(journeys.push_score(client, settings, acc.id, score=85 + (sent + i) % 10) for i in range(n))
            )
            sent += n
            await caught_up(client, acc.id, sent)
        await journeys.push_score(client, settings, acc.id, score=91.5, source="the last one")
        view = await caught_up(client, acc.id, UPDATES)
        histories = await run_histories(client, wid)
    lengths = [len(h.events) for h in histories]
    took = time.monotonic() - began
    print(
        f"\n{UPDATES} updates in {took:.1f} s ({UPDATES / took:.0f}/s); {len(lengths)} runs; "
        f"history events per run: {lengths}"
    )
    assert view.updates == UPDATES and view.received == UPDATES + 1  # + the deal
    assert (view.score, view.band, view.rejected, view.queued) == (91.5, "healthy", 0, 0)
    # state kept across runs: the account, its deal, its plays, its counters
    assert view.account_name == acc.name and [d.deal_id for d in view.deals] == ["deal-bulk-1"]
    assert [p.workflow_id for p in view.plays] == ["journey:bulk-1/onboarding/1"]  # NPS: on day 45
    assert view.plays_started == 1 and view.alerts == 0
    assert view.runs == len(lengths) > 1
    assert len(view.metrics) == 0 and len(view.timeline) < RULES.timeline_max
    assert max(lengths) < 10_000
    # every run but the last continued-as-new soon after its 2,000-event budget
    assert all(RULES.history_budget <= n <= RULES.history_budget + 2 * BATCH for n in lengths[:-1])
    # the first run (deal, plays, 1,000s of updates handled in chunks, continue-as-new) replays
    await Replayer(
        workflows=[AccountJourneyWorkflow], data_converter=pydantic_data_converter
    ).replay_workflow(histories[0])
