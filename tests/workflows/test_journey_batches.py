"""Updates in batches (time-skipping server): one account's rows of a feed call or an import
chunk reach its journey as one signal or one update-with-start, are applied in order and once,
and the update-with-start answers with what the journey did once it applied them. Then 20,000
updates sent at once, without client-side back-pressure: none is lost."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from journey_support import Clock, account, journey_worker, settings_for
from temporalio.service import RPCError

from csrunner.services import journeys


def updates(settings, *scores: float):
    return [journeys.score_update(settings, score=s, source="batch") for s in scores]


async def test_a_batch_is_one_signal_applied_in_order_and_once(env, tmp_path):
    settings, client, clock = settings_for(tmp_path), env.client, Clock(env)
    acc = account("batch-1")
    async with journey_worker(client, settings, acc.id):
        await clock.start()
        await journeys.deal_closed(client, settings, acc, "deal-b1")
        await clock.to(3, 10)  # during onboarding: the bands change, the plays wait for it
        for _ in range(2):  # a resend of the same batch changes nothing
            await journeys.send_batch(client, settings, acc.id, updates(settings, 85, 70, 40), "feed-1")
        await env.sleep(timedelta(minutes=5))
        v = await journeys.journey_view(client, acc.id)
        events = (await client.get_workflow_handle(journeys.journey_id(acc.id)).fetch_history()).events
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert signals == ["deal_closed", "scores", "scores"]
    assert (v.updates, v.received, v.score, v.band) == (3, 4, 40.0, "critical")
    assert [e.text for e in v.timeline if e.kind == "score"] == [
        "score 85 (healthy)",
        "score 70 (at_risk, was healthy)",
        "score 40 (critical, was at_risk)",
    ]


async def test_update_with_start_answers_once_the_journey_applied_the_batch(env, tmp_path):
    settings, client, clock = settings_for(tmp_path), env.client, Clock(env)
    acc = account("batch-2")
    async with journey_worker(client, settings, acc.id):
        await clock.start()
        early = await journeys.apply_batch(client, settings, acc.id, updates(settings, 80), "imp-0")
        await journeys.deal_closed(client, settings, acc, "deal-b2")
        await clock.to(16, 10)
        first = await journeys.apply_batch(client, settings, acc.id, updates(settings, 85), "imp-1")
        again = await journeys.apply_batch(client, settings, acc.id, updates(settings, 85), "imp-1")
        drop = await journeys.apply_batch(client, settings, acc.id, updates(settings, 70, 40), "imp-2")
        v = await journeys.journey_view(client, acc.id)
    assert early is not None and (early.waiting_for_deal, early.updates) == (True, 0)
    assert first is not None and (first.band_before, first.band, first.updates) == ("healthy", "healthy", 1)
    assert first.plays_started == []  # healthy since the early update: its play started at day 15
    assert again is not None and (again.duplicate, again.updates) == (True, 0)
    assert drop is not None and (drop.band_before, drop.band, drop.updates, drop.alerts) == (
        "healthy",
        "critical",
        2,
        2,
    )
    assert drop.plays_started == [
        "journey:batch-2/retention-at-risk/1",
        "journey:batch-2/retention-critical/1",
    ]
    assert v.updates == 4 and v.queued == 0


async def test_20000_updates_sent_at_once_are_all_applied(env, tmp_path):
    settings, client = settings_for(tmp_path), env.client
    ids = [f"flood-{i}" for i in range(20)]
    per_account = 1000
    async with journey_worker(client, settings, *ids):
        for i in ids:
            await journeys.deal_closed(client, settings, account(i), f"deal-{i}")
        sends = [
            journeys.push_score(client, settings, i, score=90 + n % 5, source=f"flood {n}")
            for n in range(per_account)
            for i in ids
        ]
        await asyncio.gather(*sends)  # every call at once: no semaphore, no batching
        views = []
        for i in ids:
            for _ in range(600):  # until the journey has handled its queue (no timing asserted)
                try:
                    v = await journeys.journey_view(client, i)
                except RPCError:  # busy with its backlog: the query waits for the next task
                    continue
                if v.updates + v.rejected >= per_account and v.queued == 0:
                    break
                await asyncio.sleep(0.2)
            views.append(v)
    assert [(v.received, v.updates, v.rejected, v.queued) for v in views] == [
        (per_account + 1, per_account, 0, 0)
    ] * len(ids)
    assert all(v.last_update_at is not None for v in views)
