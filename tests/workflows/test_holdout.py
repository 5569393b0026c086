"""A playbook's holdout: a held-out account gets the play's tasks and Slack but none of its
customer emails (the email step records `held_out`); an account outside it gets them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fakes import FakeSendGrid, FakeSlack
from support import acme, catalog, settings_for, start, view

from csrunner.domain.effectiveness import held_out
from worker import build_worker

pytestmark = pytest.mark.asyncio
PERCENT = 30


def _account(inside: bool):
    """The first of acc-0, acc-1, ... that is (or is not) in onboarding's 30 % holdout."""
    i = next(i for i in range(100) if held_out(f"acc-{i}", "onboarding", PERCENT) == inside)
    return acme().model_copy(update={"id": f"acc-{i}"})


async def _day0(env, tmp_path, account, after=timedelta(minutes=30)):
    bundle = catalog().bundle("onboarding")
    bundle["onboarding"] = bundle["onboarding"].model_copy(update={"holdout_percent": PERCENT})
    with FakeSendGrid() as sg, FakeSlack() as slack:
        settings = settings_for(tmp_path, sg, slack)
        async with build_worker(env.client, settings):
            handle = await start(env, settings, account=account, definitions=bundle)
            await env.sleep(after)
            v = await view(handle)
    return v, sg, slack


async def test_a_held_out_account_gets_the_tasks_and_slack_but_no_email(env, tmp_path):
    v, sg, slack = await _day0(env, tmp_path, _account(inside=True))
    welcome = next(r for r in v.timeline if r.step_id == "day0-welcome")
    assert (welcome.kind, welcome.outcome) == ("email", "held_out")
    assert "holdout" in welcome.reason
    assert sg.messages == [] and not [r for r in sg.requests if r.path == "/v3/mail/send"]
    assert "day0-kickoff" in [p.step_id for p in v.pending]  # the CSM's task is there
    assert [m["channel"] for m in slack.messages] == ["U01MARIA"]  # and the CSM's Slack


async def test_an_account_outside_the_holdout_gets_the_email(env, tmp_path):
    v, sg, _ = await _day0(env, tmp_path, _account(inside=False))
    welcome = next(r for r in v.timeline if r.step_id == "day0-welcome")
    assert welcome.outcome == "sent"
    assert len(sg.messages) == 1


async def test_nobody_is_asked_to_approve_an_email_a_held_out_account_will_not_get(env, tmp_path):
    # day 5's task is due at most 6 days after the start, whatever the hour it started
    v, sg, _ = await _day0(env, tmp_path, _account(inside=True), after=timedelta(days=6, hours=1))
    rows = {r.step_id: r for r in v.timeline}
    assert (rows["day4-approve"].kind, rows["day4-approve"].outcome) == ("approval", "held_out")
    assert "nobody is asked" in rows["day4-approve"].reason
    assert rows["day4-pilot-review"].outcome == "held_out"  # the gated email itself
    assert "day4-approve" not in [p.step_id for p in v.pending]
    assert "day5-send-task" in rows or "day5-send-task" in [p.step_id for p in v.pending]  # it went on
    assert sg.messages == []
