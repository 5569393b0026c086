"""`csr report` and the inbox dashboard: journeys and playbook runs gathered from Temporal in two
visibility listings, each with the row it publishes (csrunner/domain/read_model.py): a journey's
from the store (its memo for journeys recorded before), a run's from its memo; runs with no row
are asked their `view`, a bounded number at a time. The KPIs are computed by
csrunner/domain/kpis.py. Scoped like everything else: a CSM sees their
accounts, a manager their team, ops and executives all."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Optional, TypeVar

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError

from activities.store import StoreError, open_ledger
from csrunner.config.accounts import Team, TeamMember
from csrunner.config.catalog import Catalog
from csrunner.config.settings import Settings
from csrunner.domain import read_model
from csrunner.domain.kpis import Report, compute
from csrunner.domain.read_model import MEMO_KEY, RunRow
from csrunner.domain.snapshots import AccountSnapshot
from csrunner.services.journeys import JOURNEY_PREFIX, default_model, search_attributes_supported
from csrunner.services.runs import member, sees, view
from workflows.journey import AccountJourneyWorkflow

T = TypeVar("T")
log = logging.getLogger(__name__)


def scope_of(team: Team, person_id: str) -> tuple[TeamMember, Optional[set[str]]]:
    """Who asks and the CSM ids they see (None: all). Unknown people are refused."""
    who = member(team, person_id)
    return who, sees(team, who)


_ID = re.compile(r"[A-Za-z0-9._:@/|-]{1,200}")
#: Playbook runs the report reads: the open ones (pending work) and onboarding, which hands over to
#: scaling in the same run (first value).
_RUNS = "(ExecutionStatus = 'Running' OR Playbook IN ('onboarding', 'scaling'))"


def _query(kind: str, scope: Optional[set[str]], with_sa: bool, also: str = "") -> str:
    q = f"WorkflowType = '{kind}'" + (f" AND {also}" if also else "")
    if scope is not None and with_sa:
        bad = [c for c in scope if not _ID.fullmatch(c)]
        if bad:
            raise ValueError(f"person id {bad[0]!r} cannot be used in a visibility query")
        ids = ", ".join(f"'{c}'" for c in sorted(scope)) or "''"
        q += f" AND CsmId IN ({ids})"
    return q


async def _listed(client: Client, query: str) -> dict[str, WorkflowExecution]:
    """The newest run of each workflow id (a journey's earlier runs continued-as-new)."""
    newest: dict[str, WorkflowExecution] = {}
    async for w in client.list_workflows(query):
        if w.id not in newest or w.start_time > newest[w.id].start_time:
            newest[w.id] = w
    return newest


def _stored_rows(settings: Settings) -> dict[str, AccountSnapshot]:
    """The rows journeys wrote to the store, by account id (none when the store cannot be read:
    the journeys are then asked, slower but complete)."""
    try:
        store = open_ledger(settings)
    except StoreError as e:
        log.warning("dashboard rows not read from the store (%s): asking the journeys", e)
        return {}
    try:
        return store.account_rows()
    finally:
        store.close()


async def _row(w: WorkflowExecution, kind: type[T]) -> Optional[T]:
    """The dashboard's row a run published in its memo; None for runs recorded before it."""
    if MEMO_KEY not in w.raw_info.memo.fields:
        return None
    return await w.memo_value(MEMO_KEY, type_hint=kind)


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
    """Journeys and runs from two visibility listings with their rows (the store's, the memos');
    the few recorded before the read model (or on a server without our search attributes) by
    their `view` query."""
    with_sa = await search_attributes_supported(client, settings)
    holdouts = {pid: d.holdout_percent for pid, d in catalog.definitions.items()}
    which = _RUNS if with_sa else "ExecutionStatus = 'Running'"
    journeys, runs_listed, stored = await asyncio.gather(
        _listed(client, _query("AccountJourneyWorkflow", scope, with_sa)),
        _listed(client, _query("PlaybookWorkflow", scope, with_sa, which)),
        asyncio.to_thread(_stored_rows, settings),
    )
    accounts = {
        wid: stored.get(wid.removeprefix(JOURNEY_PREFIX)) or await _row(w, AccountSnapshot)
        for wid, w in journeys.items()
    }
    runs = {wid: await _row(w, RunRow) for wid, w in runs_listed.items()}

    def journey(wid: str) -> Callable[[], Awaitable[AccountSnapshot]]:
        async def ask() -> AccountSnapshot:
            return read_model.account_snapshot(
                await client.get_workflow_handle(wid).query(AccountJourneyWorkflow.view)
            )

        return ask

    steps = read_model.first_value_steps(catalog.definitions)

    old = [wid for wid, a in accounts.items() if a is None]
    accounts |= dict(zip(old, await _bounded(concurrency, [journey(w) for w in old]), strict=True))
    found = [a for a in accounts.values() if a is not None and (scope is None or a.csm_id in scope)]
    csm_of = {a.account_id: a.csm_id for a in found}

    def run(wid: str) -> Callable[[], Awaitable[RunRow]]:
        async def ask() -> RunRow:
            v = await view(client, wid)
            return read_model.run_row(v, csm_of.get(v.account_id, ""), steps)

        return ask

    # Onboarding runs with no row yet (older releases, or not listed): by their query.
    onboarding = {a.account_id: p.workflow_id for a in found for p in a.plays if p.playbook == "onboarding"}
    old = [w for w in runs if runs[w] is None] + [w for w in onboarding.values() if w not in runs]
    runs |= dict(zip(old, await _bounded(concurrency, [run(w) for w in old]), strict=True))
    first = {acc: r.first_value_at for acc, w in onboarding.items() if (r := runs.get(w)) is not None}
    snapshots = [
        read_model.with_holdouts(a, holdouts).model_copy(update={"first_value_at": first.get(a.account_id)})
        for a in found
    ]
    open_runs = {w for w, e in runs_listed.items() if e.status == WorkflowExecutionStatus.RUNNING}
    pending = [
        p
        for w, r in runs.items()
        # listed by CsmId already (without search attributes: the accounts whose journeys we see)
        if r is not None and w in open_runs and (scope is None or with_sa or r.account_id in csm_of)
        for p in r.pending
    ]
    ranks = {b.name: b.rank for b in default_model(settings).bands}
    return compute(snapshots, pending, now, ranks)


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
