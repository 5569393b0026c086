"""The team's KPIs from typed snapshots of accounts and pending work: pure, no I/O, no clock
(`now` is given). A KPI without data says so (`Kpi.no_data`) rather than showing a made-up number.

Targets are the seeds': 004 (NPS 70+, time to first value < 14 days, onboarding completion 95%+,
health score 80+ average, churn < 5%), 001 (NPS > 50, churn < 5%).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from statistics import mean, median
from typing import Optional

from pydantic import BaseModel

from csrunner.domain.effectiveness import PlayEffect, play_effects
from csrunner.domain.lifecycle import nps
from csrunner.domain.snapshots import AccountSnapshot, PendingSnapshot, band_at

WEEKS = 12
ESCALATION_DAYS = 30
NPS_TARGETS = {"seed 001": 50.0, "seed 004": 70.0}
TTFV_TARGET_DAYS = 14  # seed 004: Time to First Value < 14 days
ONBOARDING_TARGET = 95.0  # seed 004: Onboarding Completion 95%+
HEALTH_TARGET = 80.0  # seed 004: Customer Health Score 80+ average
CHURN_TARGET = 5.0  # seeds 001 and 004: churn < 5%


class Kpi(BaseModel):
    name: str
    value: Optional[float] = None
    unit: str = ""
    target: str = ""
    met: Optional[bool] = None
    basis: str = ""  # what it was computed from ("12 accounts")
    no_data: str = ""  # why there is no value


class PersonWork(BaseModel):
    person: str
    approvals: int = 0
    tasks: int = 0
    overdue: int = 0


class Report(BaseModel):
    as_of: datetime
    accounts: int
    by_band: dict[str, int]
    by_phase: dict[str, int]
    #: week end (oldest first) → band → accounts in that band then ("unscored": no score yet)
    band_trend: list[tuple[datetime, dict[str, int]]]
    kpis: list[Kpi]
    nps_by_csm: dict[str, Kpi]
    work: list[PersonWork]
    escalations_by_csm: dict[str, int]
    expansion_pipeline: list[str]  # account ids with an expansion signal or an expansion play running
    plays: list[PlayEffect]

    def kpi(self, name: str) -> Kpi:
        return next(k for k in self.kpis if k.name == name)


def _known(a: AccountSnapshot, when: datetime) -> bool:
    """The account counts in a week once its deal had closed or it had a score."""
    return bool((a.closed_at and a.closed_at <= when) or band_at(a, when))


def _nps_kpi(name: str, accounts: list[AccountSnapshot]) -> Kpi:
    latest = [a.nps[-1].score for a in accounts if a.nps]  # each account's latest answer
    if not latest:
        return Kpi(name=name, target="> 50 (seed 001), 70+ (seed 004)", no_data="no NPS answers yet")
    v = nps(latest) or 0.0
    targets = ", ".join(f"{'met' if v >= t else 'missed'} {t:g} ({s})" for s, t in NPS_TARGETS.items())
    return Kpi(
        name=name,
        value=v,
        target=targets,
        met=v >= max(NPS_TARGETS.values()),
        basis=f"latest answer of {len(latest)} account(s)",
    )


def _ttfv(accounts: list[AccountSnapshot]) -> Kpi:
    days = [
        (a.first_value_at - a.closed_at).total_seconds() / 86400
        for a in accounts
        if a.first_value_at and a.closed_at
    ]
    if not days:
        return Kpi(name="time to first value", unit="days", no_data="no account has recorded first value")
    v = round(median(days), 1)
    return Kpi(
        name="time to first value",
        value=v,
        unit="days (median)",
        target=f"< {TTFV_TARGET_DAYS} days (seed 004)",
        met=v < TTFV_TARGET_DAYS,
        basis=f"{len(days)} account(s) that recorded first value",
    )


def _onboarding(accounts: list[AccountSnapshot]) -> Kpi:
    ended = [p for a in accounts for p in a.plays if p.playbook == "onboarding" and p.status != "running"]
    name = "onboarding completion"
    if not ended:
        return Kpi(name=name, unit="%", no_data="no onboarding has ended yet")
    v = round(100 * sum(p.status == "completed" for p in ended) / len(ended), 1)
    return Kpi(
        name=name,
        value=v,
        unit="%",
        target=f"{ONBOARDING_TARGET:g}%+ (seed 004)",
        met=v >= ONBOARDING_TARGET,
        basis=f"{len(ended)} ended onboarding(s); preempted and failed count as not completed",
    )


def _health(accounts: list[AccountSnapshot]) -> Kpi:
    scores = [a.score for a in accounts if a.score is not None]
    if not scores:
        return Kpi(name="health score average", no_data="no account has a health score yet")
    v = round(mean(scores), 1)
    return Kpi(
        name="health score average",
        value=v,
        target=f"{HEALTH_TARGET:g}+ (seed 004)",
        met=v >= HEALTH_TARGET,
        basis=f"{len(scores)} scored account(s)",
    )


def _renewals(accounts: list[AccountSnapshot], now: datetime, ranks: dict[str, int]) -> list[Kpi]:
    live = [a for a in accounts if not a.churned_at]
    dated = [a for a in live if a.renewal_at]
    why = "no account has a contract_end fact"
    if not dated:
        return [Kpi(name="renewals due (90 days)", no_data=why), Kpi(name="renewals at risk", no_data=why)]
    due = [a for a in dated if a.renewal_at and now <= a.renewal_at <= now + timedelta(days=90)]
    top = max(ranks.values(), default=0)
    risky = [a for a in due if a.band and ranks.get(a.band, top) < top]
    return [
        Kpi(name="renewals due (90 days)", value=len(due), basis=f"{len(dated)} account(s) with a date"),
        Kpi(name="renewals at risk", value=len(risky), basis="due within 90 days and below the top band"),
    ]


def _churn(accounts: list[AccountSnapshot], now: datetime) -> Kpi:
    """Accounts that churned in the last 12 months over the portfolio they were part of. Counted
    once renewals are tracked (a contract_end or churned_on fact): before that, 0% would be a guess."""
    name, target = "churn rate", f"< {CHURN_TARGET:g}% (seeds 001, 004)"
    if not any(a.renewal_at or a.churned_at for a in accounts):
        return Kpi(name=name, target=target, no_data="no account has a contract_end or churned_on fact")
    since = now - timedelta(days=365)
    gone = [a for a in accounts if a.churned_at and since <= a.churned_at <= now]
    base = [a for a in accounts if not a.churned_at or a.churned_at >= since]
    v = round(100 * len(gone) / len(base), 1) if base else 0.0
    return Kpi(
        name=name,
        value=v,
        unit="%",
        target=target,
        met=v < CHURN_TARGET,
        basis=f"{len(gone)} of {len(base)} account(s) churned in the last 12 months (churned_on fact)",
    )


def compute(
    accounts: list[AccountSnapshot],
    pending: list[PendingSnapshot],
    now: datetime,
    ranks: dict[str, int],
) -> Report:
    """The report as of `now`; `ranks` maps band name → rank (higher = healthier)."""
    weeks = [now - timedelta(weeks=k) for k in range(WEEKS - 1, -1, -1)]
    trend = [(w, dict(Counter(band_at(a, w) or "unscored" for a in accounts if _known(a, w)))) for w in weeks]
    since = now - timedelta(days=ESCALATION_DAYS)
    escalations: Counter[str] = Counter()
    for a in accounts:
        escalations[a.csm_id] += sum(since <= e <= now for e in a.escalations)
    work: dict[str, PersonWork] = {}
    for p in pending:
        w = work.get(p.assignee) or work.setdefault(p.assignee, PersonWork(person=p.assignee))
        if p.kind == "approval":
            w.approvals += 1
        else:
            w.tasks += 1
        w.overdue += bool(p.due_at and p.due_at < now)
    by_csm: dict[str, list[AccountSnapshot]] = {}
    for a in accounts:
        by_csm.setdefault(a.csm_id, []).append(a)
    expansion = sorted(
        a.account_id
        for a in accounts
        if a.expansion_signal or any(p.playbook == "expansion" and p.status == "running" for p in a.plays)
    )
    kpis = [
        _nps_kpi("NPS", accounts),
        _ttfv(accounts),
        _onboarding(accounts),
        _health(accounts),
        *_renewals(accounts, now, ranks),
        _churn(accounts, now),
        Kpi(name="escalations (30 days)", value=sum(escalations.values()), basis="journey alerts"),
        Kpi(name="expansion pipeline", value=len(expansion), unit="accounts"),
        Kpi(name="approvals pending", value=sum(w.approvals for w in work.values())),
        Kpi(name="work overdue", value=sum(w.overdue for w in work.values())),
    ]
    return Report(
        as_of=now,
        accounts=len(accounts),
        by_band=dict(Counter(a.band or "unscored" for a in accounts)),
        by_phase=dict(Counter(a.phase for a in accounts)),
        band_trend=trend,
        kpis=kpis,
        nps_by_csm={c: _nps_kpi(f"NPS {c}", accs) for c, accs in sorted(by_csm.items())},
        work=sorted(work.values(), key=lambda w: (-w.overdue, w.person)),
        escalations_by_csm={c: n for c, n in sorted(escalations.items()) if n},
        expansion_pipeline=expansion,
        plays=play_effects(accounts, now, ranks),
    )
