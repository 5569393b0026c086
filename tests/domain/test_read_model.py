"""The dashboard's read model: the rows journeys and runs publish in their memos, built from their
views (and, for runs recorded before it, by the report from their queries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csrunner.domain.journey_messages import JourneyEvent, JourneyView, NpsRecord, PlayRun
from csrunner.domain.messages import Pending, RunView, StepRecord
from csrunner.domain.read_model import account_snapshot, first_value_at, run_row, with_holdouts

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
D = timedelta(days=1)


def record(step: str, outcome: str, day: int, **detail) -> StepRecord:
    return StepRecord(step_id=step, kind="task", outcome=outcome, at=T0 + day * D, day=day, detail=detail)


def run(facts: dict, *records: StepRecord) -> RunView:
    return RunView(
        workflow_id="journey:acme/onboarding/1",
        account_id="acme",
        playbook="onboarding",
        version=1,
        status="running",
        started_at=T0,
        current_step=None,
        day=8,
        pending=[],
        timeline=list(records),
        facts=facts,
    )


def test_first_value_is_when_its_task_said_yes():
    steps = {"day7-first-value"}
    other_yes = record("day3-other", "completed", 3, value=True)
    yes = record("day7-first-value", "completed", 7, value=True)
    assert first_value_at(run({"first_value_reached": True}, other_yes, yes), steps) == T0 + 7 * D
    no = record("day7-first-value", "completed", 7, value=False)
    assert first_value_at(run({"first_value_reached": False}, no), steps) is None
    assert first_value_at(run({}), steps) is None


def event(day: int, kind: str, text: str) -> JourneyEvent:
    return JourneyEvent(at=T0 + day * D, day=day, kind=kind, text=text)


def test_a_journey_view_becomes_a_snapshot():
    v = JourneyView(
        workflow_id="journey:acme",
        account_id="acme",
        csm_id="maria",
        closed_at=T0,
        phase="lifecycle",
        score=45,
        band="critical",
        last_update_at=T0 + 20 * D,
        nps=[NpsRecord(at=T0 + 5 * D, day=5, score=9, category="promoter")],
        plays=[
            PlayRun(
                slot="onboarding",
                playbook="onboarding",
                workflow_id="journey:acme/onboarding/1",
                n=1,
                started_at=T0,
                ends_at=T0 + 8 * D,
                status="completed",
            )
        ],
        timeline=[
            event(2, "score", "score 85 (healthy)"),
            event(20, "score", "score 45 (critical, was healthy); usage fell"),
            event(20, "alert", "critical alert to csm, manager: band fell"),
            event(21, "expansion_signal", "expansion signal 'seats'"),
        ],
    )
    s = account_snapshot(v)
    assert [(b.at, b.band) for b in s.bands] == [(T0 + 2 * D, "healthy"), (T0 + 20 * D, "critical")]
    assert s.escalations == [T0 + 20 * D]
    assert [(n.at, n.score) for n in s.nps] == [(T0 + 5 * D, 9)]
    assert [(p.playbook, p.workflow_id, p.status) for p in s.plays] == [
        ("onboarding", "journey:acme/onboarding/1", "completed")
    ]
    assert s.plays[0].held_out is None  # not recorded by the release that started it
    assert with_holdouts(s, {"onboarding": 0}).plays[0].held_out is False  # today's percentage decides
    assert (s.csm_id, s.phase, s.band, s.score) == ("maria", "lifecycle", "critical", 45)
    assert s.expansion_signal == "expansion signal 'seats'"
    assert s.renewal_at is None  # no contract_end fact
    recorded = v.model_copy(update={"plays": [v.plays[0].model_copy(update={"held_out": True})]})
    kept = with_holdouts(account_snapshot(recorded), {"onboarding": 0})
    assert kept.plays[0].held_out  # as it was when it started
    dated = account_snapshot(v.model_copy(update={"facts": {"contract_end": "2027-03-31"}}))
    assert dated.renewal_at == datetime(2027, 3, 31, tzinfo=UTC)


def test_a_run_publishes_its_open_work_and_first_value():
    yes = record("day7-first-value", "completed", 7, value=True)
    v = run({"first_value_reached": True}, yes).model_copy(
        update={
            "pending": [
                Pending(
                    step_id="day14-review",
                    kind="approval",
                    title="Review",
                    assignee="tom",
                    opened_at=T0 + 14 * D,
                    due_at=T0 + 15 * D,
                )
            ]
        }
    )
    row = run_row(v, "maria", {"day7-first-value"})
    assert (row.workflow_id, row.account_id, row.csm_id) == ("journey:acme/onboarding/1", "acme", "maria")
    assert row.first_value_at == T0 + 7 * D
    assert [(p.step_id, p.kind, p.assignee, p.csm_id, p.due_at) for p in row.pending] == [
        ("day14-review", "approval", "tom", "maria", T0 + 15 * D)
    ]
    assert run_row(run({}), "maria", set()).first_value_at is None
