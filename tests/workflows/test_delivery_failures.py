"""Failures at SendGrid and Slack: permanent ones become a task for the CSM and the playbook
goes on; transient ones (429 with Retry-After, 5xx) are retried and the message goes out once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fakes import FakeSendGrid, FakeSlack
from support import settings_for, start, view

from worker import build_worker

pytestmark = pytest.mark.asyncio


async def _day0(env, tmp_path, sg, slack):
    """The run once the welcome has an outcome. A rate limit's wait is kept in wall-clock time (the
    ledger's hint outlives a worker), which the test server's skipped time outruns: a busy machine
    may need more than one half hour of it (at most 3 hours: still day 0, before any day-1 step)."""
    settings = settings_for(tmp_path, sg, slack)
    async with build_worker(env.client, settings):
        handle = await start(env, settings)
        for _ in range(6):
            await env.sleep(timedelta(minutes=30))
            v = await view(handle)
            if any(r.step_id == "day0-welcome" for r in v.timeline):
                break
        return v


async def test_invalid_address_becomes_a_csm_task_and_the_playbook_goes_on(env, tmp_path):
    with FakeSendGrid() as sg, FakeSlack() as slack:
        sg.reject_address("ana@acme.example")
        v = await _day0(env, tmp_path, sg, slack)
    failed = next(r for r in v.timeline if r.step_id == "day0-welcome")
    assert failed.outcome == "failed" and failed.reason.startswith("400: SendGrid")
    assert "valid address" in failed.reason
    fix = next(p for p in v.pending if p.step_id == "day0-welcome-fix")
    assert (
        fix.kind == "task" and fix.assignee == "maria" and "Delivery failed for 'day0-welcome'" in fix.title
    )
    assert "day0-kickoff" in [p.step_id for p in v.pending]  # the playbook went on
    assert len([r for r in sg.requests if r.path == "/v3/mail/send"]) == 1  # never retried
    assert sg.messages == []


async def test_wrong_api_key_is_permanent_too(env, tmp_path):
    with FakeSendGrid(api_key="SG.other") as sg, FakeSlack() as slack:
        v = await _day0(env, tmp_path, sg, slack)
    failed = next(r for r in v.timeline if r.step_id == "day0-welcome")
    assert failed.outcome == "failed" and failed.reason.startswith("401")
    assert len(sg.requests) == 1


async def test_rate_limit_and_server_errors_are_retried_and_sent_once(env, tmp_path):
    with FakeSendGrid() as sg, FakeSlack() as slack:
        sg.fail_next(429, headers={"Retry-After": "3"})
        sg.fail_next(500)
        slack.fail_next(429, retry_after=2)
        v = await _day0(env, tmp_path, sg, slack)
    welcome = next(r for r in v.timeline if r.step_id == "day0-welcome")
    assert welcome.outcome == "sent"
    assert [r.status for r in sg.requests][:3] == [429, 500, 202]
    assert sg.count_custom_arg("idempotency_key") == len(sg.messages) == 1
    assert [m["channel"] for m in slack.messages] == ["U01MARIA"]  # the 429'd post, once
    assert not [p for p in v.pending if p.step_id.endswith("-fix")]


async def test_a_retried_send_never_goes_out_twice(env, tmp_path):
    """The ledger: if an attempt sent the mail but its result was lost, the retry does not resend."""
    from support import acme

    from activities.email import EmailActivities
    from activities.render import Renderer
    from activities.store import SqliteLedger
    from csrunner.domain.messages import EmailRequest

    with FakeSendGrid() as sg:
        settings = settings_for(tmp_path, sg)
        email = EmailActivities(settings, Renderer(settings.templates_dir), SqliteLedger(tmp_path / "l.db"))
        account = acme()
        req = EmailRequest(
            key="wf/onboarding/day0-welcome",
            account=account,
            contact=account.contact("champion"),
            template="onboarding_welcome",
        )
        first, again = email.send_email(req), email.send_email(req)
    assert len(sg.messages) == 1 and not first.duplicate and again.duplicate
    assert again.message_id == first.message_id
