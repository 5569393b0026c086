"""The journey holds the NPS survey itself (issue 9, patch `nps-scheduled-by-journey`): when the
deal closes it plans the survey and starts the `nps` play only when its day-45 email is due, with
the play's days still counted from the deal. No play sleeps from day 0; the email goes out when it
did before (lifecycle day 45, 09:00 in the account's zone), once, across continue-as-new and a
worker restart.

The account's zone is UTC and the deal is handled on day 0 at 00:30 (journey_support.Clock).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email import policy
from email.parser import BytesParser

import pytest
from journey_support import (
    Clock,
    account,
    continue_as_new_after,
    journey_worker,
    run_histories,
    run_view,
    settings_for,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer

from csrunner.services import journeys
from workflows.journey import AccountJourneyWorkflow

pytestmark = pytest.mark.filterwarnings("ignore:Module .* was imported after initial workflow load")

SURVEY = "survey-day45"


async def view_of(client, account_id: str):
    """The journey's view; a query landing on a run just continued-as-new is never answered by
    the test server: give up on it after 2 s and ask again."""
    handle = client.get_workflow_handle(journeys.journey_id(account_id))
    while True:
        try:
            return await handle.query(AccountJourneyWorkflow.view, rpc_timeout=timedelta(seconds=2))
        except RPCError:
            await asyncio.sleep(0.05)


async def nps_run_exists(client, account_id: str) -> bool:
    try:
        await client.get_workflow_handle(f"journey:{account_id}/nps/1").describe()
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


def surveys(tmp_path, account_id: str) -> dict[str, str]:
    """The NPS survey emails in the outbox: file stem → To."""
    out = {}
    for f in sorted((tmp_path / "outbox" / "email").glob(f"journey_{account_id}_nps_*.eml")):
        out[f.stem] = BytesParser(policy=policy.default).parse(f.open("rb"))["to"]
    return out


async def no_survey_until_day_45(env, client, clock: Clock, tmp_path, acc_id: str, days) -> None:
    """No nps run, no nps play and no survey at the end of each of `days` (before day 45)."""
    for day in days:
        await clock.to(day, 23, 59)
        assert not await nps_run_exists(client, acc_id), f"an nps run exists on day {day}"
        assert "nps" not in {p.slot for p in (await view_of(client, acc_id)).plays}
        assert not surveys(tmp_path, acc_id)


async def the_survey_goes_out_on_day_45_once(env, client, clock: Clock, tmp_path, acc_id: str):
    await clock.to(45, 8, 59)  # the survey is due at 09:00
    assert not await nps_run_exists(client, acc_id) and not surveys(tmp_path, acc_id)
    await clock.to(45, 9, 5)
    assert await nps_run_exists(client, acc_id)
    await clock.to(46, 12)
    champion = "Ana López <ana@acme.example>"
    assert surveys(tmp_path, acc_id) == {f"journey_{acc_id}_nps_1_nps_{SURVEY}": champion}
    view = await view_of(client, acc_id)
    nps = [p for p in view.plays if p.slot == "nps"]
    assert [(p.workflow_id, p.status, clock.day(p.started_at)) for p in nps] == [
        (f"journey:{acc_id}/nps/1", "running", 45)
    ]
    # the play's schedule is over on day 91, as when it started on day 0
    assert abs(nps[0].ends_at - (clock.base + timedelta(days=91, minutes=30))) < timedelta(minutes=1)
    assert [e.day for e in view.timeline if e.kind == "play_started" and "nps started" in e.text] == [45]
    rv = await run_view(client, f"journey:{acc_id}/nps/1")
    sent = [r for r in rv.timeline if r.step_id == SURVEY]
    assert [(r.outcome, r.day, r.detail["to"]) for r in sent] == [("sent", 45, "ana@acme.example")]
    # at 09:00 on lifecycle day 45, as when the play slept from day 0
    assert timedelta(0) <= sent[0].at - (clock.base + timedelta(days=45, hours=9)) < timedelta(minutes=1)
    assert clock.day(rv.started_at) == 0  # its days are lifecycle days
    return view


async def test_no_nps_run_before_day_45_then_the_survey_goes_to_the_champion_once(env, tmp_path):
    settings = settings_for(tmp_path)
    client, clock, acc = env.client, Clock(env), account("nps-held")
    async with journey_worker(client, settings, acc.id):
        await clock.start()
        await journeys.deal_closed(client, settings, acc, "deal-nps-1")
        await env.sleep(timedelta(minutes=1))
        view = await view_of(client, acc.id)
        assert [p.playbook for p in view.plays] == ["onboarding"] and view.plays_started == 1
        scheduled = [e for e in view.timeline if e.kind == "play_scheduled"]
        assert [(e.day, e.text) for e in scheduled] == [
            (
                0,
                f"NPS survey scheduled for {clock.base + timedelta(days=45, hours=9):%a %d %b %Y}, 09:00 UTC "
                "(lifecycle day 45): nps starts then",
            )
        ]
        await no_survey_until_day_45(env, client, clock, tmp_path, acc.id, (0, 15, 30, 44))
        view = await the_survey_goes_out_on_day_45_once(env, client, clock, tmp_path, acc.id)
        assert view.plays_started == 2 and view.runs == 1
        history = await client.get_workflow_handle(journeys.journey_id(acc.id)).fetch_history()
    await Replayer(
        workflows=[AccountJourneyWorkflow], data_converter=pydantic_data_converter
    ).replay_workflow(history)


async def test_the_survey_goes_out_once_when_the_journey_continued_as_new_before_day_45(
    env, tmp_path, monkeypatch
):
    settings = settings_for(tmp_path)
    client, clock, acc = env.client, Clock(env), account("nps-carried")
    wid = journeys.journey_id(acc.id)
    continue_as_new_after(monkeypatch, signals=2)  # the deal and one more signal
    async with journey_worker(client, settings, acc.id):
        await clock.start()
        await journeys.deal_closed(client, settings, acc, "deal-nps-2")
        await env.sleep(timedelta(minutes=1))
        await no_survey_until_day_45(env, client, clock, tmp_path, acc.id, (0, 10))
        # this update ends the run (the next one handles it): the held survey travels in the state
        await journeys.push_score(client, settings, acc.id, score=85, source="nightly feed")
        # (no queries meanwhile: the test server leaves time locked after one lands on the run
        # that continued-as-new)
        await env.sleep(timedelta(minutes=1))
        assert (await view_of(client, acc.id)).runs == 2
        await no_survey_until_day_45(env, client, clock, tmp_path, acc.id, (20, 44))
        view = await the_survey_goes_out_on_day_45_once(env, client, clock, tmp_path, acc.id)
        assert view.runs == 2 and view.plays_started == 3  # onboarding, retention-healthy, nps
        histories = await run_histories(client, wid)
    # a restarted worker replays each run from its history: the same commands, no second survey
    replayer = Replayer(workflows=[AccountJourneyWorkflow], data_converter=pydantic_data_converter)
    for h in histories:
        await replayer.replay_workflow(h)
