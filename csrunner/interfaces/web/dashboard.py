"""The team dashboard in the inbox (`/inbox/dashboard`): the same report as `csr report`,
scoped to who is signed in, with charts drawn server-side as inline SVG (web/charts.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from csrunner.config.catalog import load_catalog
from csrunner.config.sourcemap import DefinitionError
from csrunner.domain.kpis import Report
from csrunner.interfaces.web import charts
from csrunner.interfaces.web.auth import team_of
from csrunner.interfaces.web.errors import ServiceError, temporal_call
from csrunner.interfaces.web.guard import auth_first
from csrunner.interfaces.web.inbox import HTML, _page, _redirect, _who, same_origin
from csrunner.services.report import gather
from csrunner.services.runs import live

router = APIRouter(prefix="/inbox", tags=["inbox"], route_class=auth_first(same_origin))


def chart_set(r: Report) -> dict:
    order = sorted(
        {b for _, c in r.band_trend for b in c},
        key=lambda b: (
            list(charts.BAND_COLOURS).index(b) if b in charts.BAND_COLOURS else len(charts.BAND_COLOURS)
        ),
    )
    nps = [("portfolio", r.kpi("NPS").value), *((c, k.value) for c, k in r.nps_by_csm.items())]
    return {
        "trend": charts.stacked_weeks(
            [(f"{w:%m-%d}", c) for w, c in r.band_trend], order, "Accounts by band, last 12 weeks"
        ),
        "phases": charts.bars(sorted(r.by_phase.items()), "Accounts by phase"),
        "nps": charts.bars(nps, "NPS against the seed targets", marks=[50, 70]),
        "plays": charts.paired_bars(
            [(p.playbook, p.emailed.improved_pct, p.held_out.improved_pct) for p in r.plays],
            ("emailed", "held out"),
            "Band improved within 30 days of the play's start",
        ),
    }


@router.get("/dashboard", response_class=HTMLResponse, responses=HTML, summary="Inbox: the team dashboard")
async def dashboard(request: Request):
    found = _who(request)
    if found is None:
        return _redirect("/inbox/login")
    who, _ = found
    svc = request.app.state.svc
    report, problem, status = None, "", 200
    try:
        client = await svc.client()
        catalog = live(svc.settings, load_catalog(svc.settings.playbooks_dir, svc.settings.templates_dir))
        async with temporal_call(svc, "gathering the dashboard", svc.config.report_timeout):
            report = await gather(client, svc.settings, catalog, team_of(svc, who), datetime.now(UTC))
    except ServiceError as e:
        problem, status = e.message, e.status
    except DefinitionError as e:  # a broken playbook file: the holdouts cannot be read
        problem, status = f"the playbooks do not load: {e}", 500
    return _page(
        request,
        "dashboard.html",
        status=status,
        who=who,
        r=report,
        charts=chart_set(report) if report else {},
        problem=problem,
        person_name=svc.name,
    )
