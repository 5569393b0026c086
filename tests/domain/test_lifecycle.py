"""The lifecycle rules (csrunner.domain.lifecycle) as tables: which play starts, which is preempted,
cool-downs, expansion and recovery, the referral ask, NPS maths, and the state-size rules.
Pure: no Temporal, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from csrunner.config.catalog import load_catalog
from csrunner.config.scoring_models import load_scoring_model
from csrunner.domain import journey_view, lifecycle
from csrunner.domain.health import make_observation
from csrunner.domain.journey_messages import NpsRecord, PlayRun
from csrunner.domain.lifecycle import RULES, Decision
from csrunner.domain.triggers import FiredTrigger

ROOT = Path(__file__).resolve().parents[2]
MODEL = load_scoring_model(ROOT / "playbooks" / "scoring" / "seed004.yaml")
SEED000 = load_scoring_model(ROOT / "playbooks" / "scoring" / "seed000.yaml")
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
SPAN = {
    "retention-healthy": 22,
    "retention-at-risk": 24,
    "retention-critical": 7,
    "expansion": 28,
    "nps-recovery": 8,
}
HEALTHY, AT_RISK, CRITICAL = "retention-healthy", "retention-at-risk", "retention-critical"


def band(name: str, model=MODEL):
    return next(b for b in model.bands if b.name == name)


def play(playbook: str, days_ago: float, status: str = "running", slot: str = "retention") -> PlayRun:
    started = NOW - timedelta(days=days_ago)
    return PlayRun(
        slot=slot,
        playbook=playbook,
        workflow_id=f"journey:acme/{playbook}/1",
        n=1,
        started_at=started,
        ends_at=started + timedelta(days=SPAN[playbook]),
        status=status,
    )


def started(*plays: PlayRun) -> dict:
    return {p.playbook: p.started_at for p in plays}


def wid(playbook: str) -> str:
    return f"journey:acme/{playbook}/1"


# Each row: the plays so far (the last one per playbook gives its last start), the band the score
# lands in, what starts, what is preempted.
RETENTION = [
    ("first score, healthy", [], "healthy", HEALTHY, []),
    ("first score, critical", [], "critical", CRITICAL, []),
    ("at-risk preempts healthy", [play(HEALTHY, 20)], "at_risk", AT_RISK, [wid(HEALTHY)]),
    ("critical preempts at-risk", [play(AT_RISK, 3)], "critical", CRITICAL, [wid(AT_RISK)]),
    ("critical preempts healthy", [play(HEALTHY, 2)], "critical", CRITICAL, [wid(HEALTHY)]),
    ("a rise to at-risk ends critical", [play(CRITICAL, 5)], "at_risk", AT_RISK, [wid(CRITICAL)]),
    ("a rise to healthy ends at-risk", [play(AT_RISK, 10)], "healthy", HEALTHY, [wid(AT_RISK)]),
    ("same band: the play runs on", [play(HEALTHY, 3)], "healthy", None, []),
    ("same band, critical runs on", [play(CRITICAL, 1)], "critical", None, []),
    (
        "re-entering healthy within the cool-down: at-risk ends, healthy not restarted",
        [play(HEALTHY, 13, "preempted"), play(AT_RISK, 2)],
        "healthy",
        None,
        [wid(AT_RISK)],
    ),
    (
        "re-entering at-risk within the cool-down: not restarted, healthy ends",
        [play(AT_RISK, 6, "preempted"), play(HEALTHY, 3)],
        "at_risk",
        None,
        [wid(HEALTHY)],
    ),
    (
        "re-entering critical within the cool-down: not restarted",
        [play(CRITICAL, 4, "preempted"), play(AT_RISK, 1)],
        "critical",
        None,
        [wid(AT_RISK)],
    ),
    ("cool-down over (exactly 14 days): restarted", [play(AT_RISK, 14, "preempted")], "at_risk", AT_RISK, []),
    (
        "the play's schedule is over: the band's play starts again (monthly cycle)",
        [play(HEALTHY, 30, "completed")],
        "healthy",
        HEALTHY,
        [],
    ),
    (
        "a lingering play past its schedule is not active: nothing to preempt",
        [play(HEALTHY, 25, "running")],
        "at_risk",
        AT_RISK,
        [],
    ),
]


@pytest.mark.parametrize("case,plays,band_name,start,preempt", RETENTION, ids=[r[0] for r in RETENTION])
def test_retention_rules(case, plays, band_name, start, preempt):
    d = lifecycle.retention_decision(RULES, plays, started(*plays), MODEL.bands, band(band_name), NOW)
    assert (d.start, d.preempt) == (start, preempt)
    if start is None and not preempt:
        assert d.quiet  # the right play is already running: nothing to say
    if "cool-down" in case and start is None:
        assert "cool-down: not restarted, its email not re-sent" in d.note


def test_retention_notes_say_why():
    rose = lifecycle.retention_decision(RULES, [play(CRITICAL, 5)], {}, MODEL.bands, band("at_risk"), NOW)
    assert rose.note == ("band at_risk; the score rose, so retention-critical ends (escalation closed)")
    fell = lifecycle.retention_decision(RULES, [play(HEALTHY, 2)], {}, MODEL.bands, band("critical"), NOW)
    assert fell.note == "band critical; it preempts retention-healthy"
    cool = lifecycle.retention_decision(
        RULES, [play(AT_RISK, 6, "preempted")], started(play(AT_RISK, 6)), MODEL.bands, band("at_risk"), NOW
    )
    assert cool.note == (
        "band at_risk: retention-at-risk started 6 days ago, within the 14-day "
        "cool-down: not restarted, its email not re-sent"
    )


def test_retention_waits_for_onboarding():
    d = lifecycle.retention_decision(
        RULES, [], {}, MODEL.bands, band("critical"), NOW, hold_until=NOW + timedelta(days=3)
    )
    assert d == Decision(note="onboarding runs until 2026-06-04; retention-critical waits for it")
    assert (
        lifecycle.retention_decision(RULES, [], {}, MODEL.bands, band("critical"), NOW, hold_until=NOW).start
        == CRITICAL
    )


def test_five_band_model_two_bands_share_a_play():
    # seed 000: thriving (91-100) and healthy (76-90) both run retention-healthy: no restart
    d = lifecycle.retention_decision(
        RULES, [play(HEALTHY, 3)], {}, SEED000.bands, band("thriving", SEED000), NOW
    )
    assert (d.start, d.preempt, d.quiet) == (None, [], True)
    # stable (51-75) runs retention-at-risk and preempts healthy; the urgency order comes from the ranks
    d = lifecycle.retention_decision(
        RULES, [play(HEALTHY, 3)], {}, SEED000.bands, band("stable", SEED000), NOW
    )
    assert (d.start, d.preempt) == (AT_RISK, [wid(HEALTHY)])
    assert [lifecycle.urgency(SEED000.bands, p) for p in (HEALTHY, AT_RISK, CRITICAL)] == [-5, -3, -1]


EXPANSION = [
    ("healthy with a signal", [], "healthy", None, "expansion"),
    ("at risk: no expansion", [], "at_risk", None, None),
    ("not scored yet: no expansion", [], None, None, None),
    ("already running", [play("expansion", 10, slot="expansion")], "healthy", None, None),
    ("within its cool-down", [play("expansion", 27, "completed", slot="expansion")], "healthy", None, None),
    ("cool-down over", [play("expansion", 28, "completed", slot="expansion")], "healthy", None, "expansion"),
    ("during onboarding", [], "healthy", NOW + timedelta(days=1), None),
]


@pytest.mark.parametrize("case,plays,band_name,hold,start", EXPANSION, ids=[r[0] for r in EXPANSION])
def test_expansion_rules(case, plays, band_name, hold, start):
    b = band(band_name) if band_name else None
    d = lifecycle.expansion_decision(RULES, plays, started(*plays), MODEL.bands, b, NOW, hold)
    assert d.start == start and d.preempt == []


@pytest.mark.parametrize(
    "prev,new,preempted",
    [
        ("healthy", "at_risk", True),
        ("healthy", "critical", True),
        ("at_risk", "critical", True),
        ("healthy", "healthy", False),
        ("at_risk", "healthy", False),
        (None, "critical", False),
    ],
)
def test_any_drop_preempts_expansion(prev, new, preempted):
    exp = play("expansion", 10, slot="expansion")
    prev_rank = band(prev).rank if prev else None
    got = lifecycle.drop_preemptions([play(HEALTHY, 10), exp], prev_rank, band(new).rank, NOW)
    assert got == ([exp] if preempted else [])


@pytest.mark.parametrize(
    "case,plays,category,start",
    [
        ("detractor", [], "detractor", "nps-recovery"),
        ("passive", [], "passive", None),
        ("promoter", [], "promoter", None),
        ("detractor, recovery running", [play("nps-recovery", 2, slot="recovery")], "detractor", None),
        (
            "detractor within the cool-down",
            [play("nps-recovery", 10, "completed", slot="recovery")],
            "detractor",
            None,
        ),
        (
            "detractor after the cool-down",
            [play("nps-recovery", 14, "completed", slot="recovery")],
            "detractor",
            "nps-recovery",
        ),
    ],
)
def test_detractor_starts_recovery(case, plays, category, start):
    assert lifecycle.recovery_decision(RULES, plays, started(*plays), category, NOW).start == start


def answer(score: int, days_ago: float = 0) -> NpsRecord:
    return NpsRecord(
        at=NOW - timedelta(days=days_ago), day=None, score=score, category=lifecycle.nps_category(score)
    )


@pytest.mark.parametrize(
    "answers,metrics,asked_days_ago,due,why",
    [
        ([answer(10)], {"roi_pct": 250}, None, True, "promoter (10) with ROI 250%"),
        ([answer(9)], {"roi_pct": 100}, None, True, "promoter (9) with ROI 100%"),
        ([answer(10)], {"roi_pct": 99}, None, False, "ROI not measurable yet (roi_pct 99.0, needs 100+)"),
        ([answer(10)], {}, None, False, "ROI not measurable yet (roi_pct unknown, needs 100+)"),
        ([answer(8)], {"roi_pct": 300}, None, False, "no recent promoter answer"),
        ([answer(10), answer(5)], {"roi_pct": 300}, None, False, "no recent promoter answer"),
        ([], {"roi_pct": 300}, None, False, "no recent promoter answer"),
        (
            [answer(10, days_ago=121)],
            {"roi_pct": 300},
            None,
            False,
            "the promoter answer is older than 120 days",
        ),
        ([answer(10)], {"roi_pct": 300}, 30, False, "already asked 30 days ago"),
        ([answer(10)], {"roi_pct": 300}, 90, True, "promoter (10) with ROI 300%"),
    ],
)
def test_referral_ask_after_measurable_roi(answers, metrics, asked_days_ago, due, why):
    asked = NOW - timedelta(days=asked_days_ago) if asked_days_ago is not None else None
    assert lifecycle.referral_due(RULES, answers, metrics, asked, NOW) == (due, why)


@pytest.mark.parametrize(
    "score,category",
    [(0, "detractor"), (6, "detractor"), (7, "passive"), (8, "passive"), (9, "promoter"), (10, "promoter")],
)
def test_nps_categories(score, category):
    assert lifecycle.nps_category(score) == category


@pytest.mark.parametrize("bad", [-1, 11, 7.5, True, "9", None])
def test_nps_category_rejects(bad):
    with pytest.raises(ValueError, match=r"score must be a whole number from 0 to 10 \(NPS\)"):
        lifecycle.nps_category(bad)


@pytest.mark.parametrize(
    "scores,expected",
    [
        ([], None),
        ([10], 100.0),
        ([0], -100.0),
        ([7, 8], 0.0),
        ([5, 10], 0.0),
        ([10, 9, 8, 5], 25.0),
        ([9, 9, 7, 3, 1, 10], 16.7),
    ],
)
def test_account_nps(scores, expected):
    assert lifecycle.nps(scores) == expected


def test_portfolio_nps():
    answers = {"acme": [5, 10], "globex": [9], "initech": [6, 3], "hooli": []}
    assert lifecycle.portfolio_nps(answers) == round(100 * (2 - 3) / 5, 1)  # every answer: -20.0
    assert lifecycle.portfolio_nps(answers, latest_only=True) == round(100 * (2 - 1) / 3, 1)  # 33.3


def test_play_spans_come_from_the_definitions():
    catalog = load_catalog(ROOT / "playbooks", ROOT / "email_templates")
    spans = {
        pid: lifecycle.span_days(catalog.bundle(pid), pid)
        for pid in (
            "onboarding",
            "nps",
            "retention-healthy",
            "retention-at-risk",
            "retention-critical",
            "expansion",
            "nps-recovery",
        )
    }
    assert spans == {"onboarding": 15, "nps": 91, **SPAN}  # onboarding hands over to scaling (8 + 7)


def test_history_stays_compact():
    daily = [make_observation(MODEL, NOW - timedelta(days=d), score=80 + d % 5) for d in range(60, 0, -1)]
    kept = journey_view.compact_history(daily, NOW, MODEL.triggers.history_days(), RULES.history_max)
    assert [(NOW - o.at).days for o in kept] == list(range(29, 0, -1))  # the 28-day window + its start
    burst = [make_observation(MODEL, NOW, score=85) for _ in range(500)]
    assert len(journey_view.compact_history(burst, NOW, 28, RULES.history_max)) == RULES.history_max
    # older days keep their last observation only; the last 24 h stay whole
    two_a_day = [
        make_observation(MODEL, NOW - timedelta(days=d, hours=h), score=85) for d in (3, 2) for h in (5, 1)
    ] + [make_observation(MODEL, NOW - timedelta(hours=h), score=85) for h in (5, 1)]
    kept = journey_view.compact_history(two_a_day, NOW, 28, RULES.history_max)
    assert [NOW - o.at for o in kept] == [
        timedelta(days=3, hours=1),
        timedelta(days=2, hours=1),
        timedelta(hours=5),
        timedelta(hours=1),
    ]


@pytest.mark.parametrize(
    "length,signals,suggested,due",
    [
        (10, 0, False, None),
        (1999, 1499, False, None),
        (2000, 0, False, "2000 history events (budget 2000)"),
        (50, 1500, False, "1500 signals in this run (budget 1500; the limit is 10,000)"),
        (50, 0, True, "Temporal suggested continue-as-new"),
    ],
)
def test_continue_as_new_budget(length, signals, suggested, due):
    assert journey_view.continue_as_new_reason(RULES, length, signals, suggested) == due


def test_what_templates_see():
    fired = [FiredTrigger(name="band_drop", severity="critical", reason="band fell")]
    m = journey_view.template_metrics(
        {"roi_pct": 250, "open_rate_pct": 35, "login_frequency": "daily", "open_tickets": None},
        86.0,
        "healthy",
        fired,
        [answer(10)],
        {"signal": "team_growth", "detail": "doubled"},
    )
    assert m == {
        "roi_pct": 250,
        "roi": 250,
        "open_rate_pct": 35,
        "open_rate": 35,
        "login_frequency": "daily",
        "health_score": 86,
        "band": "healthy",
        "triggers": [{"name": "band_drop", "severity": "critical", "reason": "band fell"}],
        "nps_score": 10,
        "nps_category": "promoter",
        "nps_comment": "",
        "account_nps": 100.0,
        "expansion_signal": "team_growth",
        "expansion_detail": "doubled",
    }


def test_what_arrives_is_queued_in_order_and_a_repeated_deal_changes_nothing():
    from journey_support import ACCOUNT, account

    from csrunner.domain.journey_messages import DealClosed, JourneyState, NpsAnswer, ScoreUpdate

    rules = RULES.model_copy(update={"waiting_max": 3})
    st = JourneyState(account_id="acme")
    for score in (50, 60, 70):
        lifecycle.receive(rules, st, ScoreUpdate(score=score), NOW)
    lifecycle.receive(rules, st, NpsAnswer(score=9), NOW)  # before the deal: kept, oldest score dropped
    lifecycle.receive(rules, st, ScoreUpdate(score=80, at=NOW + timedelta(hours=1)), NOW)
    assert [(w.kind, w.score) for w in st.waiting] == [("score", 70), ("nps", 9), ("score", 80)]
    assert st.waiting[-1].at == NOW  # a time ahead of the journey's clock is clamped to now
    deal = DealClosed(account=ACCOUNT, deal_id="d1", token="first", closed_at=NOW + timedelta(days=1))
    lifecycle.receive(rules, st, deal, NOW)
    before = st.model_copy(deep=True)
    lifecycle.receive(rules, st, deal.model_copy(update={"token": "retry"}), NOW)  # a CRM retry
    lifecycle.receive(rules, st, deal.model_copy(update={"account": account("globex"), "deal_id": "d2"}), NOW)
    assert st == before  # nothing changed
    assert st.deals["d1"].model_dump() == {
        "deal_id": "d1",
        "token": "first",
        "closed_at": NOW,
        "started_lifecycle": True,
    }
    lifecycle.receive(rules, st, ScoreUpdate(score=90), NOW)
    assert [m.kind for m in st.inbox] == ["deal_closed", "score"] and st.received == 7
