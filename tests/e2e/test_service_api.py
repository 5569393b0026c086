"""The CSM/ops action API on the dev server: who sees and may act on what (CSM, manager, ops),
the actions, refusals with reasons, and the account timeline with who did what."""

from __future__ import annotations

import httpx
from e2e_helpers import account, bearer, eventually

from csrunner.config.catalog import load_catalog
from csrunner.config.settings import REPO_ROOT
from csrunner.services.runs import start_run


async def _pending(http, who, wid):
    r = await http.get("/api/pending", headers=bearer(who))
    assert r.status_code == 200, r.text
    return [p for p in r.json() if p["workflow_id"] == wid]


async def test_roles_actions_and_timeline(stack):
    catalog = load_catalog(REPO_ROOT / "playbooks", REPO_ROOT / "email_templates")
    acct = account()
    wid, _ = await start_run(stack.client, stack.settings, catalog, acct, "onboarding")
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        mine = await eventually(lambda: _pending(http, "maria", wid))
        kickoff = next(p for p in mine if p["step_id"] == "day0-kickoff")
        assert (
            kickoff["kind"] == "task"
            and kickoff["assignee_name"] == "María García"
            and not kickoff["overdue"]
        )
        assert await _pending(http, "tom", wid) == []  # another CSM's account
        assert await _pending(http, "carlos", wid) and await _pending(http, "olga", wid)  # manager, ops

        body = {"workflow_id": wid, "step_id": "day0-kickoff"}
        r = await http.post("/api/actions/complete", json=body, headers=bearer("tom"))
        assert r.status_code == 403 and "may not act" in r.json()["error"]
        r = await http.post("/api/actions/approve", json=body, headers=bearer("maria"))
        assert r.status_code == 409 and "'approve' is not allowed" in r.json()["error"]
        r = await http.post(
            "/api/actions/complete", json={**body, "step_id": "nope"}, headers=bearer("maria")
        )
        assert r.status_code == 409 and "unknown step 'nope'" in r.json()["error"]
        r = await http.post(
            "/api/actions/complete", json={**body, "workflow_id": "no-such-run"}, headers=bearer("maria")
        )
        assert r.status_code == 404
        r = await http.post(
            "/api/actions/reassign", json={**body, "assignee": "zed"}, headers=bearer("maria")
        )
        assert r.status_code == 409 and "reassign needs an assignee" in r.json()["error"]

        r = await http.post(
            "/api/actions/reassign",
            json={**body, "assignee": "manager", "reason": "on leave"},
            headers=bearer("maria"),
        )
        assert r.status_code == 200 and "day0-kickoff" in r.json()["pending"]
        r = await http.post(
            "/api/actions/complete", json={**body, "reason": "kickoff held"}, headers=bearer("carlos")
        )
        assert r.status_code == 200 and "day0-kickoff" not in r.json()["pending"], r.text

        r = await http.get(f"/api/accounts/{acct.id}/timeline", headers=bearer("tom"))
        assert r.status_code == 403
        assert (
            await http.get("/api/accounts/nobody-here/timeline", headers=bearer("olga"))
        ).status_code == 404
        tl = (await http.get(f"/api/accounts/{acct.id}/timeline", headers=bearer("maria"))).json()
        by = {(e["step_id"], e["outcome"]): e for e in tl["entries"]}
        assert by[("day0-kickoff", "reassigned")]["actor_name"] == "María García"
        assert by[("day0-kickoff", "reassigned")]["reason"] == "on leave"
        assert by[("day0-kickoff", "completed")]["actor_name"] == "Carlos Ruiz"
        assert by[("day0-welcome", "sent")]["detail"]["to"] == "ana@acme.example"
    await stack.client.get_workflow_handle(wid).terminate("test done")
