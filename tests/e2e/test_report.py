"""`csr report`'s service on the real dev server: it gathers real journeys (visibility, then
their views) and a CSM's report holds only their accounts and their pending work."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from e2e_helpers import account, eventually
from support import catalog
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from activities.store import open_ledger
from csrunner.config.accounts import load_team
from csrunner.config.settings import REPO_ROOT
from csrunner.services import report
from csrunner.services.journeys import deal_closed, push_nps, push_score
from csrunner.services.report import gather, scope_of
from worker import WORKFLOWS


def _csm(pid: str):
    a = account()
    return a.model_copy(update={"csm": a.csm.model_copy(update={"id": pid})})


async def _report(stack, scope, want: int, answers: int = 0, alerts: int = 0):
    async def ready():
        r = await gather(stack.client, stack.settings, catalog(), scope, datetime.now(UTC))
        # visibility, the journeys' day-0 plays, their scores and NPS answers catch up within moments
        applied = r.accounts == want and r.work and r.by_band.get("unscored", 0) == 0
        answered = not answers or r.kpi("NPS").value is not None
        alerted = r.kpi("escalations (30 days)").value == alerts  # sent after the band is set
        return r if applied and answered and alerted else None

    return await eventually(ready, timeout=60)


async def test_the_report_gathers_real_journeys_scoped_to_the_csm(stack):
    a_csm, b_csm = f"csm-{uuid.uuid4().hex[:6]}", f"csm-{uuid.uuid4().hex[:6]}"
    mine = [_csm(a_csm), _csm(a_csm)]
    other = _csm(b_csm)
    for acct in [*mine, other]:
        await deal_closed(stack.client, stack.settings, acct, f"deal-{acct.id}")
    await push_score(stack.client, stack.settings, mine[0].id, score=45, source="test")
    await push_score(stack.client, stack.settings, mine[1].id, score=85, source="test")
    await push_score(stack.client, stack.settings, other.id, score=70, source="test")
    await push_nps(stack.client, stack.settings, mine[0].id, 10)

    r = await _report(stack, {a_csm}, want=2, answers=1, alerts=1)
    assert r.by_band == {"critical": 1, "healthy": 1}
    assert r.by_phase == {"onboarding": 2}
    assert r.kpi("NPS").value == 100.0 and list(r.nps_by_csm) == [a_csm]
    assert r.kpi("health score average").value == 65.0
    assert r.kpi("escalations (30 days)").value == 1  # the fall into critical alerted
    assert {w.person for w in r.work} == {a_csm}  # day 0's kickoff tasks: only this CSM's
    assert [(p.playbook, p.runs) for p in r.plays if p.playbook == "onboarding"] == [("onboarding", 2)]

    both = await _report(stack, {a_csm, b_csm}, want=3, alerts=1)
    assert both.by_band == {"critical": 1, "healthy": 1, "at_risk": 1}
    assert {w.person for w in both.work} == {a_csm, b_csm}


async def test_the_report_reads_the_rows_runs_publish_and_asks_no_run(stack, monkeypatch):
    """The read model: a journey writes its dashboard row to the store, a run publishes its row in
    its memo, so the report is two visibility listings and a read of the store, not one query per
    run (a run recorded before it is asked). Neither asks a patch (a visibility write each)."""
    csm = f"csm-{uuid.uuid4().hex[:6]}"
    acct = _csm(csm)
    await deal_closed(stack.client, stack.settings, acct, f"deal-{acct.id}")
    await push_score(stack.client, stack.settings, acct.id, score=45, source="test")
    r = await _report(stack, {csm}, want=1, alerts=1)
    asked: list[int] = []
    real = report._bounded

    async def counted(limit, jobs):
        asked.append(len(jobs))
        return await real(limit, jobs)

    monkeypatch.setattr(report, "_bounded", counted)
    again = await gather(stack.client, stack.settings, catalog(), {csm}, r.as_of)
    assert sum(asked) == 0  # no journey, no run asked its view
    assert again == r
    assert [(w.person, w.approvals + w.tasks) for w in again.work] == [(csm, 1)]  # day 0's kickoff
    store = open_ledger(stack.settings)
    row = store.account_rows()[acct.id]
    store.close()
    assert (row.csm_id, row.score, row.band) == (csm, 45, "critical")
    # Publishing the rows is workflow code: the journey's and its onboarding's histories replay.
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    for wid, memo in ((f"journey:{acct.id}", False), (f"journey:{acct.id}/onboarding/1", True)):
        events = (history := await stack.client.get_workflow_handle(wid).fetch_history()).events
        assert memo == any(e.HasField("workflow_properties_modified_event_attributes") for e in events)
        upserted = [
            set(e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
            for e in events
            if e.HasField("upsert_workflow_search_attributes_event_attributes")
        ]
        assert upserted and not any("TemporalChangeVersion" in u for u in upserted)
        await replayer.replay_workflow(history)


def test_who_sees_what():
    team = load_team(REPO_ROOT / "team.yaml")
    assert scope_of(team, "maria")[1] == {"maria"}
    assert scope_of(team, "carlos")[1] == {"carlos", "maria", "tom"}
    assert scope_of(team, "olga")[1] is None


async def test_csr_report_as_a_csm_in_csv_json_and_a_table(stack):
    import csv
    import io
    import json

    from test_cli_rights import csr

    acct = account()  # CSM maria
    await deal_closed(stack.client, stack.settings, acct, f"deal-{acct.id}")
    await push_score(stack.client, stack.settings, acct.id, score=45, source="test")

    async def in_report():
        done = await csr(stack, "report", "--as", "maria", "--json")
        return done.returncode == 0 and json.loads(done.stdout)["by_band"].get("critical") and done

    data = json.loads((await eventually(in_report, timeout=30)).stdout)
    assert set(data["nps_by_csm"]) == {"maria"}  # a CSM's report: their accounts only
    rows = list(csv.DictReader(io.StringIO((await csr(stack, "report", "--as", "maria", "--csv")).stdout)))
    renewals = next(r for r in rows if r["name"] == "renewals due (90 days)")
    assert (renewals["value"], renewals["status"]) == ("", "no data")
    assert any(r["section"] == "band" and r["name"] == "critical" for r in rows)
    table = await csr(stack, "report", "--as", "maria")
    assert table.returncode == 0 and "Team report for maria" in table.stdout
    nobody = await csr(stack, "report", "--as", "nobody")
    assert nobody.returncode == 1
    assert nobody.stderr.strip() == (
        "Error: --as 'nobody' is not a person in the team file (known: maria, tom, carlos, elena, olga)"
    )
