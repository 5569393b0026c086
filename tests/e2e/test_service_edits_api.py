"""The action API's side of approve-with-edits: `GET /api/pending` shows the parts a CSM may
edit with their text, `POST /api/actions/approve` takes `edits`, and `reject` needs a reason."""

from __future__ import annotations

import json

import httpx
from e2e_helpers import account, bearer, eventually

from csrunner.config.catalog import load_catalog
from csrunner.config.settings import REPO_ROOT
from csrunner.services.runs import start_run


async def test_api_approve_with_edits_and_reject_needs_a_reason(stack):
    acct = account()
    acct = acct.model_copy(
        update={"contacts": [c.model_copy(update={"locale": "en"}) for c in acct.contacts]}
    )
    catalog = load_catalog(REPO_ROOT / "playbooks", REPO_ROOT / "email_templates")
    wid, _ = await start_run(stack.client, stack.settings, catalog, acct, "retention-critical")
    step = {"workflow_id": wid, "step_id": "urgent-approval"}
    async with httpx.AsyncClient(base_url=stack.url, timeout=30, headers=bearer("maria")) as http:

        async def gate():
            items = (await http.get("/api/pending")).json()
            return next(
                (i for i in items if i["workflow_id"] == wid and i["step_id"] == "urgent-approval"), None
            )

        item = await eventually(gate)
        assert sorted(item["editable"]) == ["action_plan", "issues", "subject"]
        assert item["editable"]["issues"] == "campaign performance\nengagement\ndata quality"

        r = await http.post("/api/actions/reject", json=step)
        assert r.status_code == 422 and "reason" in r.text
        r = await http.post("/api/actions/approve", json={**step, "edits": {"Agenda!": "x"}})
        assert r.status_code == 422
        r = await http.post("/api/actions/approve", json={**step, "edits": {"agenda": "x"}})
        assert r.status_code == 409
        assert "'agenda' is not an editable part of 'urgent-email'" in r.json()["error"]
        r = await http.post("/api/actions/approve", json={**step, "edits": {"issues": "a" * 2001}})
        assert r.status_code == 422

        r = await http.post(
            "/api/actions/approve", json={**step, "edits": {"issues": "Bounce rate 12%\nNo segments"}}
        )
        assert r.status_code == 200, r.text
        key = f"{wid}/retention-critical/urgent-email"
        await eventually(lambda: stack.sendgrid.count_custom_arg("idempotency_key", key) == 1)
        (sent,) = [m for m in stack.sendgrid.messages_to("ana@acme.example") if key in json.dumps(m)]
        assert "• Main Issues: Bounce rate 12%, No segments" in json.dumps(sent, ensure_ascii=False)
    await stack.client.get_workflow_handle(wid).terminate("test done")
