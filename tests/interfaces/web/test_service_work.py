"""Inbox ordering and visibility scoping, without Temporal (the run listing is stubbed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csrunner.config.settings import REPO_ROOT, ServiceConfig, Settings
from csrunner.domain.messages import Pending, RunView
from csrunner.interfaces.web import work
from csrunner.interfaces.web.auth import Principal, may_act, team_of
from csrunner.interfaces.web.state import Service

NOW = datetime.now(UTC)


def _svc():
    return Service(Settings(team_file=REPO_ROOT / "team.yaml"), ServiceConfig(api_tokens={}), client=None)


def _run(wid, *pending):
    return RunView(
        workflow_id=wid,
        account_id="acme",
        playbook="onboarding",
        version=1,
        status="running",
        started_at=NOW,
        current_step=None,
        day=0,
        pending=list(pending),
        timeline=[],
        facts={},
    )


def _p(step, due_in_hours, opened_hours_ago=1):
    return Pending(
        step_id=step,
        kind="task",
        title=step,
        assignee="maria",
        opened_at=NOW - timedelta(hours=opened_hours_ago),
        due_at=None if due_in_hours is None else NOW + timedelta(hours=due_in_hours),
    )


async def test_overdue_first_then_by_deadline(monkeypatch):
    seen = {}

    async def fake_views(svc, query, what):
        seen["query"] = query
        return [
            ("w1", "maria", _run("w1", _p("later", 30), _p("no-deadline", None))),
            ("w2", "maria", _run("w2", _p("late-2h", -2), _p("soon", 1), _p("late-9h", -9))),
        ]

    monkeypatch.setattr(work, "_views", fake_views)
    svc = _svc()
    items = await work.pending_for(svc, Principal(svc.person("maria")))
    assert [i.step_id for i in items] == ["late-9h", "late-2h", "soon", "later", "no-deadline"]
    assert [i.overdue for i in items][:3] == [True, True, False]
    assert "CsmId IN ('maria')" in seen["query"] and "ExecutionStatus = 'Running'" in seen["query"]
    await work.pending_for(svc, Principal(svc.person("carlos")))
    assert "CsmId IN ('carlos', 'maria', 'tom')" in seen["query"]
    await work.pending_for(svc, Principal(svc.person("olga")))
    assert "CsmId" not in seen["query"]


def test_who_may_act():
    svc = _svc()
    maria, tom, carlos, olga, elena = (
        Principal(svc.person(p)) for p in ("maria", "tom", "carlos", "olga", "elena")
    )
    assert may_act(svc, maria, "maria") and not may_act(svc, tom, "maria")
    assert may_act(svc, tom, "maria", assignee="tom")  # reassigned to them
    assert may_act(svc, carlos, "maria") and may_act(svc, carlos, "tom")
    assert may_act(svc, olga, "anyone") and may_act(svc, elena, "anyone")
    assert team_of(svc, carlos) == {"carlos", "maria", "tom"} and team_of(svc, olga) is None


def test_visibility_query_values_are_checked():
    with pytest.raises(work.ServiceError):
        work._quote("x' OR '1'='1")
