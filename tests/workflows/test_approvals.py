"""Humans in the loop on the day-4 approval gate: approve, skip, snooze, nobody answering,
and the actions a run must refuse (with the reason, writing nothing)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from support import act, advance_to, at_local, local_day_time, settings_for, start, view
from temporalio.client import WorkflowUpdateFailedError

from csrunner.config.accounts import load_team
from csrunner.config.settings import REPO_ROOT
from csrunner.domain.messages import Action
from csrunner.services.runs import ActionRefused, act_as
from worker import build_worker

pytestmark = pytest.mark.asyncio


@asynccontextmanager
async def onboarding(env, tmp_path):
    """A worker in outbox mode and a fresh onboarding run: (handle, start time)."""
    settings = settings_for(tmp_path)
    async with build_worker(env.client, settings):
        handle = await start(env, settings)
        yield handle, (await view(handle)).started_at


def _rows(v, t0, step):
    return [(*local_day_time(t0, r.at), r.outcome, r.actor) for r in v.timeline if r.step_id == step]


async def test_skip_means_the_email_is_never_sent(env, tmp_path):
    async with onboarding(env, tmp_path) as (handle, t0):
        await advance_to(env, at_local(t0, 4, "11:00"))
        await act(handle, "day4-approve", "skip", reason="customer asked to wait")
        await advance_to(env, at_local(t0, 4, "12:00"))
        v = await view(handle)
    assert _rows(v, t0, "day4-approve") == [
        (4, "09:00", "requested", "playbook"),
        (4, "11:00", "skipped", "maria"),
    ]
    assert _rows(v, t0, "day4-pilot-review") == [(4, "11:00", "skipped", "playbook")]
    assert not list((tmp_path / "outbox" / "email").glob("*day4-pilot-review*"))
    assert v.current_step == "day5-send-task"  # the run waits for its next step, day 5


async def test_snooze_asks_again_when_it_ends_then_approve_sends_once(env, tmp_path):
    async with onboarding(env, tmp_path) as (handle, t0):
        await advance_to(env, at_local(t0, 4, "09:30"))
        await act(handle, "day4-approve", "snooze", until=at_local(t0, 4, "15:00"), reason="in a meeting")
        await advance_to(env, at_local(t0, 4, "15:30"))
        v = await view(handle)
        (pending,) = [p for p in v.pending if p.step_id == "day4-approve"]
        assert pending.snoozed_until is None  # the snooze ended and the CSM was asked again
        await act(handle, "day4-approve", "approve")
        await advance_to(env, at_local(t0, 4, "16:00"))
        v = await view(handle)
    reminders = list((tmp_path / "outbox" / "slack").glob("*day4-approve_remind*"))
    assert len(reminders) == 1 and "Reminder" in reminders[0].read_text()
    assert _rows(v, t0, "day4-approve") == [
        (4, "09:00", "requested", "playbook"),
        (4, "09:30", "snoozed", "maria"),
        (4, "15:30", "approved", "maria"),
    ]
    assert _rows(v, t0, "day4-pilot-review") == [(4, "15:30", "sent", "playbook")]
    assert len(list((tmp_path / "outbox" / "email").glob("*day4-pilot-review*"))) == 1


async def test_unanswered_approval_climbs_to_manager_then_executive(env, tmp_path):
    async with onboarding(env, tmp_path) as (handle, t0):
        await advance_to(env, at_local(t0, 7, "12:00"))
        v = await view(handle)
        assert [p.step_id for p in v.pending if p.kind == "approval"] == ["day4-approve"]
        assert not any(r.step_id == "day5-send-task" for r in v.timeline)  # the playbook waits
        await act(handle, "day4-approve", "approve", actor="carlos", reason="approved on escalation")
        await advance_to(env, at_local(t0, 7, "12:05"))
        v = await view(handle)
    assert [
        (*local_day_time(t0, r.at), r.outcome, r.actor, r.detail.get("to"))
        for r in v.timeline
        if r.step_id == "day4-approve"
    ] == [
        (4, "09:00", "requested", "playbook", None),
        (5, "09:00", "escalated", "playbook", "manager"),
        (6, "09:00", "escalated", "playbook", "executive"),
        (7, "09:00", "overdue", "playbook", None),
        (7, "12:00", "approved", "carlos", None),
    ]
    slack = sorted(p.name for p in (tmp_path / "outbox" / "slack").glob("*day4-approve_escalate*"))
    assert len(slack) == 2
    texts = [p.read_text() for p in sorted((tmp_path / "outbox" / "slack").glob("*day4-approve_escalate*"))]
    assert texts[0].startswith("To: U01CARLOS") and texts[1].startswith("To: U01ELENA")
    # once approved, the day-5 task (its time long past) follows at once
    assert _rows(v, t0, "day4-pilot-review") == [(7, "12:00", "sent", "playbook")]
    assert _rows(v, t0, "day5-send-task")[0][:3] == (7, "12:00", "created")


async def test_refused_actions_say_why_and_change_nothing(env, tmp_path):
    async with onboarding(env, tmp_path) as (handle, t0):
        await advance_to(env, at_local(t0, 4, "09:30"))
        await act(handle, "day4-approve", "approve")
        await advance_to(env, at_local(t0, 4, "09:35"))
        before = await view(handle)
        cases = [
            (dict(step="day4-approve", action="approve"), "already approved by maria"),
            (dict(step="day9-nothing", action="approve"), "unknown step 'day9-nothing'"),
            (dict(step="day6-analysis-task", action="complete"), "step 'day6-analysis-task' is not pending"),
            (dict(step="day4-pilot-task", action="approve"), "is a task: 'approve' is not allowed"),
            (
                dict(step="day4-pilot-task", action="reassign", assignee="nobody"),
                "reassign needs an assignee",
            ),
        ]
        for kwargs, message in cases:
            with pytest.raises(WorkflowUpdateFailedError) as err:
                await act(handle, kwargs.pop("step"), kwargs.pop("action"), **kwargs)
            assert message in str(err.value.cause), (message, err.value.cause)
        after = await view(handle)
    assert after.timeline == before.timeline and after.pending == before.pending


async def test_rights_come_from_the_run_while_its_csm_attribute_is_not_published(env, tmp_path):
    """The Slack request can reach people before the run's CsmId search attribute (this server
    has none at all): the manager may still act, and another CSM is refused naming the CSM."""
    async with onboarding(env, tmp_path) as (handle, t0):
        await advance_to(env, at_local(t0, 4, "09:30"))
        team = load_team(REPO_ROOT / "team.yaml")
        assert (await view(handle)).csm_id == "maria"
        with pytest.raises(ActionRefused, match=r"^tom \(csm\) may not act on runs of CSM 'maria'$"):
            await act_as(
                env.client, team, handle.id, Action(step_id="day4-approve", action="approve", actor="tom")
            )
        v = await act_as(
            env.client, team, handle.id, Action(step_id="day4-approve", action="approve", actor="carlos")
        )
    assert [(r.outcome, r.actor) for r in v.timeline if r.step_id == "day4-approve"][-1] == (
        "approved",
        "carlos",
    )
