"""`csr report` and the inbox dashboard: journeys and open runs gathered from Temporal (visibility,
then their `view` queries, a bounded number at a time), turned into snapshots by small adapters,
and the KPIs computed by csrunner/domain/kpis.py. Scoped like everything else: a CSM sees their
accounts, a manager their team, ops and executives all."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Optional, TypeVar

from temporalio.client import Client
from temporalio.service import RPCError

from csrunner.config.accounts import Team, TeamMember
from csrunner.config.catalog import Catalog
from csrunner.config.settings import Settings
from csrunner.domain.effectiveness import held_out
from csrunner.domain.journey_messages import JourneyView
from csrunner.domain.kpis import Report, compute
from csrunner.domain.messages import RunView
from csrunner.domain.snapshots import AccountSnapshot, BandAt, NpsAt, PendingSnapshot, PlaySnapshot
from csrunner.services.journeys import default_model, search_attributes_supported
from csrunner.services.runs import member, sees, view
from workflows.journey import AccountJourneyWorkflow

T = TypeVar("T")
#: a band change in the journey's timeline: "score 72 (at_risk, was healthy)"
_BAND = re.compile(r"^score [0-9.]+ \(([A-Za-z0-9_-]+)")
FIRST_VALUE = "first_value_reached"
CONTRACT_END = "contract_end"  # the account fact renewals are counted from


# --- adapters: the only code that knows the views' shapes ---------------------------------------
def first_value_at(run: RunView, steps: set[str]) -> Optional[datetime]:
    """When the task recording first value (one of `steps`) said yes; None: not yet, or no."""
    if run.facts.get(FIRST_VALUE) is not True:
        return None
    done = [
        r
        for r in run.timeline
        if r.step_id in steps and r.outcome == "completed" and r.detail.get("value") is True
    ]
    return done[-1].at if done else None


def account_snapshot(
    v: JourneyView, holdouts: dict[str, float], first_value: Optional[datetime] = None
) -> AccountSnapshot:
    bands = [
        BandAt(at=e.at, band=m.group(1))
        for e in v.timeline
        if e.kind == "score" and (m := _BAND.match(e.text))
    ]
    if v.band and (not bands or bands[-1].band != v.band) and v.last_update_at:
        bands.append(BandAt(at=v.last_update_at, band=v.band))  # older changes fell off the timeline
    return AccountSnapshot(
        account_id=v.account_id,
        account_name=v.account_name,
        csm_id=v.csm_id,
        phase=v.phase,
        closed_at=v.closed_at,
        score=v.score,
        band=v.band,
        bands=bands,
        nps=[NpsAt(at=n.at, score=n.score) for n in v.nps],
        plays=[
            PlaySnapshot(
                playbook=p.playbook,
                started_at=p.started_at,
                status=p.status,
                held_out=(
                    p.held_out
                    if p.held_out is not None
                    else held_out(v.account_id, p.playbook, holdouts.get(p.playbook, 0))
                ),
            )
            for p in v.plays
        ],
        first_value_at=first_value,
        escalations=[e.at for e in v.timeline if e.kind == "alert"],
        expansion_signal=next((e.text for e in reversed(v.timeline) if e.kind == "expansion_signal"), ""),
        renewal_at=contract_end(v.facts),
    )


def contract_end(facts: dict) -> Optional[datetime]:
    """The `contract_end` fact (YYYY-MM-DD, checked where facts enter) as the start of that day, UTC;
    None when the account has none."""
    raw = facts.get(CONTRACT_END)
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    if isinstance(raw, date):
        return datetime(raw.year, raw.month, raw.day, tzinfo=UTC)
    if isinstance(raw, str):
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            return None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return None


def pending_snapshots(wid: str, csm_id: str, run: RunView) -> list[PendingSnapshot]:
    return [
        PendingSnapshot(
            account_id=run.account_id,
            csm_id=csm_id,
            workflow_id=wid,
            step_id=p.step_id,
            kind=p.kind,
            assignee=p.assignee,
            due_at=p.due_at,
        )
        for p in run.pending
    ]


# --- gathering -------------------------------------------------------------------------------------
def scope_of(team: Team, person_id: str) -> tuple[TeamMember, Optional[set[str]]]:
    """Who asks and the CSM ids they see (None: all). Unknown people are refused."""
    who = member(team, person_id)
    return who, sees(team, who)


_ID = re.compile(r"[A-Za-z0-9._:@/|-]{1,200}")


def _query(kind: str, scope: Optional[set[str]], with_sa: bool, running: bool = False) -> str:
    q = f"WorkflowType = '{kind}'" + (" AND ExecutionStatus = 'Running'" if running else "")
    if scope is not None and with_sa:
        bad = [c for c in scope if not _ID.fullmatch(c)]
        if bad:
            raise ValueError(f"person id {bad[0]!r} cannot be used in a visibility query")
        ids = ", ".join(f"'{c}'" for c in sorted(scope)) or "''"
        q += f" AND CsmId IN ({ids})"
    return q


async def _bounded(limit: int, jobs: list[Callable[[], Awaitable[T]]]) -> list[Optional[T]]:
    sem = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[T]]) -> Optional[T]:
        async with sem:
            try:
                return await job()
            except RPCError:
                return None  # gone between list and query, or closed with no worker to replay it
            except Exception as e:  # a query the run could not answer: counted, not fatal
                if type(e).__name__.startswith("WorkflowQuery"):
                    return None
                raise

    return await asyncio.gather(*(one(j) for j in jobs))


async def gather(
    client: Client,
    settings: Settings,
    catalog: Catalog,
    scope: Optional[set[str]],
    now: datetime,
    concurrency: int = 32,
) -> Report:
    with_sa = await search_attributes_supported(client, settings)
    holdouts = {pid: d.holdout_percent for pid, d in catalog.definitions.items()}
    journey_ids = [
        w.id async for w in client.list_workflows(_query("AccountJourneyWorkflow", scope, with_sa))
    ]
    open_ids = [w.id async for w in client.list_workflows(_query("PlaybookWorkflow", scope, with_sa, True))]

    def journey(wid: str) -> Callable[[], Awaitable[JourneyView]]:
        return lambda: client.get_workflow_handle(wid).query(AccountJourneyWorkflow.view)

    def run(wid: str) -> Callable[[], Awaitable[RunView]]:
        return lambda: view(client, wid)

    got_journeys, got_open = await asyncio.gather(
        _bounded(concurrency, [journey(w) for w in journey_ids]),
        _bounded(concurrency, [run(w) for w in open_ids]),
    )
    views = [v for v in got_journeys if v is not None and (scope is None or v.csm_id in scope)]
    runs = {wid: r for wid, r in zip(open_ids, got_open, strict=True) if r is not None}
    # Onboarding runs still open were read above; only the closed ones are queried again.
    onboarding = {v.account_id: p.workflow_id for v in views for p in v.plays if p.playbook == "onboarding"}
    closed = [w for w in onboarding.values() if w not in runs]
    runs |= {
        w: r for w, r in zip(closed, await _bounded(concurrency, [run(w) for w in closed]), strict=True) if r
    }
    steps = {
        st.id
        for d in catalog.definitions.values()
        for st in d.steps
        if getattr(st, "records", None) == FIRST_VALUE
    }
    first = {acc: first_value_at(runs[w], steps) for acc, w in onboarding.items() if w in runs}
    accounts = [account_snapshot(v, holdouts, first.get(v.account_id)) for v in views]
    mine = {a.account_id: a.csm_id for a in accounts}
    pending = [
        p
        for wid in open_ids
        # listed by CsmId already (without search attributes: the accounts whose journeys we see)
        if (r := runs.get(wid)) is not None and (scope is None or with_sa or r.account_id in mine)
        for p in pending_snapshots(wid, mine.get(r.account_id, ""), r)
    ]
    ranks = {b.name: b.rank for b in default_model(settings).bands}
    return compute(accounts, pending, now, ranks)


# --- flat rows: the table, the CSV -----------------------------------------------------------------
ROW_FIELDS = ("section", "name", "value", "target", "status", "basis")


def _num(v: Optional[float], unit: str = "") -> str:
    if v is None:
        return ""
    return (f"{v:g}" if v != int(v) else f"{int(v)}") + (f" {unit}" if unit else "")


def rows(r: Report) -> list[dict[str, str]]:
    """Every number of the report as (section, name, value, target, status, basis) rows."""
    out: list[dict[str, str]] = []

    def add(section: str, name: str, value: str, target: str = "", status: str = "", basis: str = ""):
        out.append(dict(zip(ROW_FIELDS, (section, name, value, target, status, basis), strict=True)))

    add("portfolio", "accounts", str(r.accounts), basis=f"as of {r.as_of:%Y-%m-%d %H:%M} UTC")
    for band, n in sorted(r.by_band.items()):
        add("band", band, str(n))
    for phase, n in sorted(r.by_phase.items()):
        add("phase", phase, str(n))
    for k in [*r.kpis, *r.nps_by_csm.values()]:
        status = "no data" if k.no_data else "" if k.met is None else "met" if k.met else "missed"
        add("kpi", k.name, _num(k.value, k.unit), k.target, status, k.no_data or k.basis)
    for w in r.work:
        add("work", w.person, f"{w.approvals} approvals, {w.tasks} tasks", status=f"{w.overdue} overdue")
    for csm, n in r.escalations_by_csm.items():
        add("escalations (30 days)", csm, str(n))
    for p in r.plays:
        for arm, a in (("emailed", p.emailed), ("held out", p.held_out)):
            if a.runs:
                add(
                    "play",
                    f"{p.playbook} ({arm})",
                    f"{a.runs} runs",
                    status=f"band improved in {_num(a.improved_pct, '%') or 'n/a'}",
                    basis=f"{a.improved} of {a.measured} measured (30 days over); "
                    f"completion {_num(p.completion_pct, '%') or 'none ended'}",
                )
    for week, counts in r.band_trend:
        add("trend", f"{week:%Y-%m-%d}", ", ".join(f"{b} {n}" for b, n in sorted(counts.items())))
    return out
