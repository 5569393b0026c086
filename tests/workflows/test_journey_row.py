"""The journey's dashboard row in the store (workflows/journey_row.py): written by the local
activity `publish_account_row` after the journey handled what changed it, ordered across
continue-as-new, and written by the first run that follows a run recorded before the store.
A run started by this release asks no patch (each asked costs a visibility write)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from journey_support import Clock, account, continue_as_new_after, journey_worker, run_histories, settings_for
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from activities.store import open_ledger
from csrunner.domain import journey_rules
from csrunner.domain.journey_messages import DealClosed, JourneyInput
from csrunner.services import journeys
from workflows.journey import AccountJourneyWorkflow

pytestmark = pytest.mark.filterwarnings("ignore:Module .* was imported after initial workflow load")


def _stored(settings, account_id: str):
    store = open_ledger(settings)
    try:
        return store.account_rows().get(account_id)
    finally:
        store.close()


def _markers(histories) -> list[str]:
    return [
        e.marker_recorded_event_attributes.marker_name
        for h in histories
        for e in h.events
        if e.HasField("marker_recorded_event_attributes")
    ]


async def _past_its_deal(env, settings, acc) -> None:
    """The clock running, the account's deal closed and handled (its row written)."""
    await Clock(env).start()
    await journeys.deal_closed(env.client, settings, acc, f"deal-{acc.id}")
    await env.sleep(timedelta(minutes=1))


@pytest.fixture
def two_signals_per_run(monkeypatch):
    continue_as_new_after(monkeypatch, signals=2)


async def test_the_row_follows_the_journey_across_continue_as_new(env, tmp_path, two_signals_per_run):
    settings = settings_for(tmp_path)
    client, acc = env.client, account("row-carried")
    async with journey_worker(client, settings, acc.id):
        await _past_its_deal(env, settings, acc)
        first = _stored(settings, acc.id)
        assert (first.phase, first.score, first.csm_id) == ("onboarding", None, "maria")
        # the second signal ends the run; the next run handles it and writes the row
        await journeys.push_score(client, settings, acc.id, score=85, source="nightly feed")
        await env.sleep(timedelta(minutes=1))
        after = _stored(settings, acc.id)
        assert (after.score, after.band) == (85, "healthy")
        assert (await journeys.journey_view(client, acc.id)).runs == 2
        histories = await run_histories(client, journeys.journey_id(acc.id))
    markers = _markers(histories)
    assert "core_patch" not in markers  # started by this release: no patch asked
    assert markers.count("core_local_activity") >= 2  # one write per run at least
    replayer = Replayer(workflows=[AccountJourneyWorkflow], data_converter=pydantic_data_converter)
    for h in histories:
        await replayer.replay_workflow(h)


async def test_a_journey_recorded_before_the_store_writes_its_row_once_it_continues(
    env, tmp_path, two_signals_per_run
):
    settings = settings_for(tmp_path)
    client, acc = env.client, account("row-upgraded")
    wid = journeys.journey_id(acc.id)
    async with journey_worker(client, settings, acc.id):
        await Clock(env).start()
        await client.start_workflow(  # as the previous release started journeys: version 0
            AccountJourneyWorkflow.run,
            JourneyInput(account_id=acc.id, search_attributes=False),
            id=wid,
            task_queue=settings.task_queue,
            start_signal="deal_closed",
            start_signal_args=[DealClosed(account=acc, deal_id="deal-old", token="t")],
        )
        await env.sleep(timedelta(minutes=1))
        assert _stored(settings, acc.id) is None  # version 0 without search attributes: no row
        await journeys.push_score(client, settings, acc.id, score=40, source="nightly feed")
        await env.sleep(timedelta(minutes=1))
        row = _stored(settings, acc.id)
        assert (row.score, row.band, row.phase) == (40, "critical", "onboarding")
        histories = await run_histories(client, wid)
    assert len(histories) == 2
    assert "core_patch" in _markers(histories[:1]) and "core_patch" not in _markers(histories[1:])


async def test_a_quiet_update_has_its_row_written_with_the_decision(env, tmp_path):
    """A score that moves nothing on the row but the score (same band, nothing fired or started):
    `journey_decide_scores` writes the row, so the journey runs no local activity for it. A band
    change still has the journey write its own row."""
    settings = settings_for(tmp_path)
    client, acc = env.client, account("row-quiet")
    wid = journeys.journey_id(acc.id)

    async def writes_by_the_journey() -> int:
        return _markers(await run_histories(client, wid)).count("core_local_activity")

    async with journey_worker(client, settings, acc.id):
        await _past_its_deal(env, settings, acc)
        for score, source in [(85, "first"), (88, "quiet"), (86, "quiet too"), (40, "band falls")]:
            before = await writes_by_the_journey()
            await journeys.push_score(client, settings, acc.id, score=score, source=source)
            await env.sleep(timedelta(minutes=1))
            row = _stored(settings, acc.id)
            assert row.score == score
            written = await writes_by_the_journey() - before
            assert written == (0 if source.startswith("quiet") else 1), source
        assert (row.band, [b.band for b in row.bands]) == ("critical", ["healthy", "critical"])
        histories = await run_histories(client, wid)
    replayer = Replayer(workflows=[AccountJourneyWorkflow], data_converter=pydantic_data_converter)
    for h in histories:
        await replayer.replay_workflow(h)


async def test_a_row_written_with_more_than_a_new_score_is_replaced_by_the_journeys(
    env, tmp_path, monkeypatch
):
    """Should the activity write a row for updates that changed more than the score (here a band:
    a rule of the activity's that is wrong), the journey writes its own after it, and the store
    ends with the journey's row."""

    def eager(req, outs):  # the last row with the new score, whatever the updates did
        last = outs[-1].observation
        row = req.row and req.row.row.model_copy(update={"score": last.score})
        return req.row and req.row.model_copy(update={"seq": req.row.seq + 1, "row": row})

    monkeypatch.setattr(journey_rules, "quiet_row", eager)
    settings = settings_for(tmp_path)
    client, acc = env.client, account("row-eager")
    async with journey_worker(client, settings, acc.id):
        await _past_its_deal(env, settings, acc)
        await journeys.push_score(client, settings, acc.id, score=40, source="feed")
        await env.sleep(timedelta(minutes=1))
        row = _stored(settings, acc.id)
        markers = _markers(await run_histories(client, journeys.journey_id(acc.id)))
    assert (row.score, row.band) == (40, "critical")  # not the activity's (no band)
    assert markers.count("core_local_activity") == 2  # after the deal, and after 40
