"""The dashboard's numbers for a seeded portfolio of 50 accounts, each computed by hand below.

Account i (0-49): CSM maria for i < 30, tom after. Every account was scored at_risk 100 days ago;
20 days ago the ones with i % 5 == 0 fell to critical and those with i % 5 in (3, 4) rose to
healthy. Accounts 0-9 closed 5 days ago (onboarding running), 10-49 60 days ago."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csrunner.domain.effectiveness import held_out
from csrunner.domain.kpis import compute
from csrunner.domain.snapshots import AccountSnapshot, BandAt, NpsAt, PendingSnapshot, PlaySnapshot

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
RANKS = {"healthy": 3, "at_risk": 2, "critical": 1}
D = timedelta(days=1)


def band_now(i: int) -> str:
    return "critical" if i % 5 == 0 else "healthy" if i % 5 in (3, 4) else "at_risk"


def account(i: int) -> AccountSnapshot:
    band = band_now(i)
    closed = NOW - (5 * D if i < 10 else 60 * D)
    bands = [BandAt(at=NOW - 100 * D, band="at_risk")]
    if band != "at_risk":
        bands.append(BandAt(at=NOW - 20 * D, band=band))
    nps = {0: [3, 10], 1: [8], 2: [5], 3: []}[i % 4]  # the last answer counts
    plays = [
        PlaySnapshot(
            playbook="onboarding",
            started_at=closed,
            status="running" if i < 10 else "preempted" if i % 10 == 0 else "completed",
        )
    ]
    if i >= 10:
        plays.append(
            PlaySnapshot(
                playbook="retention-at-risk",
                started_at=NOW - 40 * D,
                status="completed",
                held_out=i % 5 == 3,
            )
        )
    if i in (0, 5):
        plays.append(PlaySnapshot(playbook="retention-critical", started_at=NOW - 10 * D, status="running"))
    if i == 47:
        plays.append(PlaySnapshot(playbook="expansion", started_at=NOW - 3 * D, status="running"))
    return AccountSnapshot(
        account_id=f"acc-{i:03d}",
        csm_id="maria" if i < 30 else "tom",
        phase="onboarding" if i < 10 else "lifecycle",
        closed_at=closed,
        score={"critical": 50, "at_risk": 70, "healthy": 90}[band],
        band=band,
        bands=bands,
        nps=[NpsAt(at=NOW - (10 - k) * D, score=s) for k, s in enumerate(nps)],
        plays=plays,
        first_value_at=None if i < 10 else closed + (10 * D if i % 2 == 0 else 20 * D),
        escalations=[NOW - 20 * D, NOW - 45 * D] if i % 5 == 0 else [],
        expansion_signal="seats at 95%" if i in (48, 49) else "",
    )


def pending(assignee: str, kind: str, due: timedelta | None) -> PendingSnapshot:
    return PendingSnapshot(
        account_id="acc-001",
        csm_id=assignee,
        workflow_id="journey:acc-001/onboarding/1",
        step_id=f"s{due}",
        kind=kind,  # type: ignore[arg-type]
        assignee=assignee,
        due_at=NOW + due if due is not None else None,
    )


PENDING = [
    pending("maria", "approval", D),
    pending("maria", "approval", -timedelta(hours=1)),  # overdue
    pending("maria", "approval", None),
    pending("tom", "task", -2 * D),
    pending("tom", "task", -D),
]


def report():
    return compute([account(i) for i in range(50)], PENDING, NOW, RANKS)


def test_bands_phases_and_the_12_week_trend():
    r = report()
    assert r.accounts == 50
    assert r.by_band == {"critical": 10, "at_risk": 20, "healthy": 20}
    assert r.by_phase == {"onboarding": 10, "lifecycle": 40}
    # Week ends 77, 70, ..., 21 days ago: all at_risk; 14, 7 and 0 days ago: today's bands.
    assert [w for w, _ in r.band_trend] == [NOW - timedelta(weeks=k) for k in range(11, -1, -1)]
    assert [c for _, c in r.band_trend] == [{"at_risk": 50}] * 9 + [r.by_band] * 3


def test_an_account_counts_in_the_trend_from_its_deal_or_first_score():
    new = AccountSnapshot(account_id="new", phase="onboarding", closed_at=NOW - 10 * D)  # no score
    trend = [c for _, c in compute([account(1), new], [], NOW, RANKS).band_trend]
    both = {"at_risk": 1, "unscored": 1}
    assert trend == [{"at_risk": 1}] * 10 + [both, both]  # week ends 7 and 0 days ago


def test_nps_portfolio_and_per_csm_against_the_seed_targets():
    r = report()
    # Latest answers: 13 promoters (i%4==0), 13 passives, 12 detractors; 12 never answered.
    nps = r.kpi("NPS")
    assert nps.value == round(100 * (13 - 12) / 38, 1) == 2.6
    assert nps.met is False
    assert nps.target == "missed 50 (seed 001), missed 70 (seed 004)"
    # maria (0-29): 8 promoters, 8 passives, 7 detractors; tom (30-49): 5, 5, 5.
    assert r.nps_by_csm["maria"].value == round(100 / 23, 1) == 4.3
    assert r.nps_by_csm["tom"].value == 0.0


def test_first_value_onboarding_and_health():
    r = report()
    ttfv = r.kpi("time to first value")
    assert (ttfv.value, ttfv.met) == (15.0, False)  # 20 accounts at 10 days, 20 at 20: median 15
    assert ttfv.basis == "40 account(s) that recorded first value"
    onboarding = r.kpi("onboarding completion")
    assert (onboarding.value, onboarding.met) == (90.0, False)  # 36 of 40 ended; 10, 20, 30, 40 preempted
    health = r.kpi("health score average")
    assert (health.value, health.met) == ((10 * 50 + 20 * 70 + 20 * 90) / 50, False)


def test_renewals_and_churn_say_they_have_no_data():
    r = report()
    for name in ("renewals due (90 days)", "renewals at risk", "churn rate"):
        k = r.kpi(name)
        assert k.value is None and k.no_data, name


def test_renewals_count_contract_ends_within_90_days_and_those_below_the_top_band():
    accounts = [account(i) for i in range(50)]
    ends = {0: 30 * D, 3: 89 * D, 4: 91 * D, 7: -D, 12: 60 * D}  # 0 critical, 3/4 healthy, 7/12 at_risk
    for i, delta in ends.items():
        accounts[i] = accounts[i].model_copy(update={"renewal_at": NOW + delta})
    r = compute(accounts, PENDING, NOW, RANKS)
    due, risky = r.kpi("renewals due (90 days)"), r.kpi("renewals at risk")
    assert (due.value, due.basis) == (3, "5 account(s) with a date")  # 0, 3, 12: 4 is too far, 7 is past
    assert risky.value == 2  # 0 (critical) and 12 (at_risk); 3 is healthy
    churn = r.kpi("churn rate")
    assert (churn.value, churn.met) == (0.0, True)  # renewals are tracked and nobody churned


def test_churn_counts_the_last_12_months_of_churned_on_facts():
    accounts = [account(i) for i in range(50)]
    gone = {0: -10 * D, 1: -200 * D, 2: -364 * D, 3: -400 * D}  # 3 churned before the 12 months
    for i, delta in gone.items():
        accounts[i] = accounts[i].model_copy(update={"churned_at": NOW + delta, "renewal_at": NOW - D})
    accounts[5] = accounts[5].model_copy(update={"renewal_at": NOW + 30 * D})
    r = compute(accounts, PENDING, NOW, RANKS)
    churn = r.kpi("churn rate")
    # 0, 1, 2 churned within 12 months; 3 left before them and is not in the base: 3 / 49
    assert (churn.value, churn.met) == (round(100 * 3 / 49, 1), False)
    assert churn.basis == "3 of 49 account(s) churned in the last 12 months (churned_on fact)"
    assert r.kpi("renewals due (90 days)").value == 1  # churned accounts renew nothing


def test_escalations_expansion_and_work_by_person():
    r = report()
    # Critical accounts (i%5==0) had an alert 20 days ago (counted) and 45 days ago (not).
    assert r.kpi("escalations (30 days)").value == 10
    assert r.escalations_by_csm == {"maria": 6, "tom": 4}
    assert r.expansion_pipeline == ["acc-047", "acc-048", "acc-049"]
    assert [(w.person, w.approvals, w.tasks, w.overdue) for w in r.work] == [
        ("tom", 0, 2, 2),
        ("maria", 3, 0, 1),
    ]
    assert r.kpi("approvals pending").value == 3
    assert r.kpi("work overdue").value == 3


def test_play_effectiveness_compares_held_out_accounts():
    plays = {p.playbook: p for p in report().plays}
    at_risk = plays["retention-at-risk"]
    assert (at_risk.runs, at_risk.completion_pct) == (40, 100.0)
    # Held out: i%5==3 in 10-49, 8 accounts, all now healthy. Emailed: 32, of which the 8 with
    # i%5==4 rose to healthy.
    assert (at_risk.held_out.runs, at_risk.held_out.measured, at_risk.held_out.improved_pct) == (8, 8, 100.0)
    assert (at_risk.emailed.runs, at_risk.emailed.measured, at_risk.emailed.improved_pct) == (32, 32, 25.0)
    onboarding = plays["onboarding"]
    # 40 onboardings started 60 days ago: no band change within 30 days; 10 too recent to measure.
    assert (onboarding.runs, onboarding.completion_pct) == (50, 90.0)
    assert (onboarding.emailed.measured, onboarding.emailed.improved) == (40, 0)
    critical = plays["retention-critical"]
    assert (critical.runs, critical.completion_pct, critical.emailed.measured) == (2, None, 0)


def test_holdout_share_is_the_configured_one_and_stable():
    for percent in (10, 25, 50):
        chosen = [held_out(f"acc-{i:05d}", "retention-healthy", percent) for i in range(1000)]
        assert abs(100 * sum(chosen) / 1000 - percent) <= 2, percent
    assert held_out("acme", "nps", 20) == held_out("acme", "nps", 20)
    assert not any(held_out(f"acc-{i}", "nps", 0) for i in range(1000))
    # Independent per play: the same accounts are not held out of every play.
    a = {i for i in range(1000) if held_out(f"acc-{i}", "nps", 20)}
    b = {i for i in range(1000) if held_out(f"acc-{i}", "expansion", 20)}
    assert a != b
