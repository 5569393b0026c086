"""The 14 days of onboarding + scaling, as seed 004 tells them, on the time-skipping server.

A diligent CSM completes each day's task at 10:00 and approves the day-4 email; every email
reaches (fake) SendGrid once, to the champion, at the seed's day and hour (Madrid time)."""

from __future__ import annotations

from collections import Counter

import pytest
from fakes import FakeSendGrid, FakeSlack
from support import act, advance_to, at_local, local_day_time, settings_for, start, view

from worker import build_worker

pytestmark = pytest.mark.asyncio

# (lifecycle day, local time or None for "at once", step, outcome): the seed, day by day.
EXPECTED = [
    (0, None, "day0-slack-csm", "sent"),
    (0, None, "day0-welcome", "sent"),
    (0, None, "day0-kickoff", "created"),
    (1, "09:00", "day1-data-email", "sent"),
    (1, "09:00", "day1-data-task", "created"),
    (2, "09:00", "day2-segments-email", "sent"),
    (2, "09:00", "day2-segments-task", "created"),
    (3, "09:00", "day3-branding-email", "sent"),
    (3, "09:00", "day3-branding-task", "created"),
    (4, "09:00", "day4-pilot-task", "created"),
    (4, "09:00", "day4-approve", "requested"),
    (4, "10:00", "day4-pilot-review", "sent"),  # only once the CSM approved, at 10:00
    (5, "09:00", "day5-send-task", "created"),
    (6, "09:00", "day6-analysis-task", "created"),
    (7, "09:00", "day7-recap", "sent"),
    (7, "09:00", "day7-first-value", "created"),
    (8, "09:00", "day8-scaling", "handed_over"),
    (8, "09:00", "scale-segments-email", "sent"),
    (8, "09:00", "scale-segments-task", "created"),
    (10, "09:00", "scale-automations-email", "sent"),
    (10, "09:00", "scale-automations-task", "created"),
    (12, "09:00", "scale-dashboard-email", "sent"),
    (12, "09:00", "scale-dashboard-task", "created"),
    (13, "09:00", "scale-training-email", "sent"),
    (13, "09:00", "scale-training-task", "created"),
    (14, "09:00", "scale-ttv-recap", "sent"),  # first value was confirmed on day 7
    (14, "17:00", "scale-ttv-escalation", "not_applicable"),
    (14, "17:00", "scale-ttv-at-risk", "not_applicable"),
]


async def test_fourteen_days_as_the_seed_says(env, tmp_path):
    with FakeSendGrid() as sg, FakeSlack() as slack:
        settings = settings_for(tmp_path, sg, slack)
        async with build_worker(env.client, settings):
            handle = await start(env, settings)
            t0 = (await view(handle)).started_at
            for day in range(15):
                await advance_to(env, at_local(t0, day, "10:00"))
                for p in (await view(handle)).pending:  # the CSM clears the day's work at 10:00
                    if p.kind == "approval":
                        await act(handle, p.step_id, "approve", reason="looks good")
                    else:
                        await act(handle, p.step_id, "complete", value=True if p.records else None)
            await advance_to(env, at_local(t0, 15, "10:00"))
            v = await view(handle)
            scaling_history = await handle.fetch_history()  # the run after the handover
            onboarding_history = await env.client.get_workflow_handle(
                handle.id, run_id=handle.run_id
            ).fetch_history()

        rows = [
            (*local_day_time(t0, r.at), r.step_id, r.outcome) for r in v.timeline if r.actor == "playbook"
        ]
        rows = [(d, None if (d == 0) else t, s, o) for d, t, s, o in rows]
        assert rows == EXPECTED
        assert v.facts == {"first_value_reached": True}
        assert v.playbook == "scaling" and v.status == "completed" and v.pending == []

        # Every email went to the champion, once each, through SendGrid's real wire format.
        assert [m["personalizations"][0]["to"][0]["email"] for m in sg.messages] == ["ana@acme.example"] * 11
        keys = sg.custom_arg_values("idempotency_key")
        assert len(keys) == 11 and set(Counter(keys).values()) == {1} and all(n == 1 for n in keys.values())
        welcome = sg.messages[0]
        assert welcome["subject"].startswith("¡Bienvenidos a bordo, Acme Retail!")
        text = welcome["content"][0]["value"]
        assert welcome["content"][0]["type"] == "text/plain" and "Ana" in text and "María García" in text
        review = next(r for r in v.timeline if r.step_id == "day4-pilot-review")
        assert sg.messages[4]["subject"] == review.detail["subject"]
        approved = next(r for r in v.timeline if r.step_id == "day4-approve" and r.outcome == "approved")
        assert (approved.actor, approved.reason) == ("maria", "looks good")

        # Slack: the CSM's ping on day 0, the approval request with buttons, then its update.
        first, request = slack.messages[0], slack.messages[1]
        assert first["channel"] == "U01MARIA" and "New customer: Acme Retail" in first["text"]
        assert request["channel"] == "U01MARIA" and "Approved by María García" in request["text"]
        assert len(slack.updates) == 1
        assert not [r for r in v.timeline if r.outcome in ("escalated", "failed", "overdue")]

        # One onboarding + scaling run stays far below Temporal's limits (SPEC 9: < 400 events).
        events = len(onboarding_history.events) + len(scaling_history.events)
        print(
            f"history events: onboarding {len(onboarding_history.events)} + scaling "
            f"{len(scaling_history.events)} = {events}"
        )
        assert events < 400


async def test_first_value_not_reached_by_day_14_escalates_the_account_as_at_risk(env, tmp_path):
    settings = settings_for(tmp_path)
    async with build_worker(env.client, settings):
        handle = await start(env, settings)
        t0 = (await view(handle)).started_at
        await advance_to(env, at_local(t0, 4, "09:30"))
        await act(handle, "day4-approve", "approve")
        await advance_to(env, at_local(t0, 7, "18:00"))
        await act(handle, "day7-first-value", "complete", value=False, reason="pilot below target")
        await advance_to(env, at_local(t0, 14, "18:00"))
        v = await view(handle)
    rows = {
        r.step_id: (*local_day_time(t0, r.at), r.outcome)
        for r in v.timeline
        if r.step_id.startswith("scale-ttv")
    }
    assert rows == {
        "scale-ttv-recap": (14, "09:00", "not_applicable"),
        "scale-ttv-escalation": (14, "17:00", "sent"),
        "scale-ttv-at-risk": (14, "17:00", "created"),
    }
    assert v.facts == {"first_value_reached": False}
    escalation = next(r for r in v.timeline if r.step_id == "scale-ttv-escalation")
    assert (
        escalation.detail["to"] == "U01CARLOS"
        and "has not confirmed first value by day 14" in escalation.detail["text"]
    )
    (task,) = [p for p in v.pending if p.step_id == "scale-ttv-at-risk"]
    assert task.assignee == "maria" and task.ladder == ["manager", "executive"]
