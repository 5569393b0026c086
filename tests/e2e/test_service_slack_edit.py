"""Slack's "Edit" button on the critical play's URGENT approval, end to end: the click opens a
modal (the fake Slack validates views.open), its submission (`view_submission`, signed as Slack
signs it) approves with the CSM's action plan, and that text is what reaches the customer, once."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import parse_qs

import httpx
from e2e_helpers import SLACK_SECRET, account, bearer, eventually
from slack_sdk.signature import SignatureVerifier
from test_service_slack import signed_click

from csrunner.config.catalog import load_catalog
from csrunner.config.settings import REPO_ROOT
from csrunner.services.runs import start_run

PLAN = "Today (2 Dec): Call to fix the bounce rate\nThis Week (by 5 Dec): Clean the list\nNext Week: Review"


def signed(payload: dict) -> tuple[bytes, dict]:
    body = str(httpx.QueryParams({"payload": json.dumps(payload)})).encode()
    ts = str(int(time.time()))
    sig = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=ts, body=body)
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sig,
    }


async def test_edit_opens_a_modal_and_its_submission_approves_with_the_edits(stack):
    acct = account()
    acct = acct.model_copy(
        update={"contacts": [c.model_copy(update={"locale": "en"}) for c in acct.contacts]}
    )
    catalog = load_catalog(REPO_ROOT / "playbooks", REPO_ROOT / "email_templates")
    wid, _ = await start_run(stack.client, stack.settings, catalog, acct, "retention-critical")
    value = f"{wid}|urgent-approval"
    message = await eventually(
        lambda: next((m for m in stack.slack.messages if value in json.dumps(m["blocks"] or [])), None)
    )
    buttons = [e["text"]["text"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["Approve", "Edit", "Skip", "Snooze 1 day"]

    body, headers = signed_click(message, "U01MARIA", "edit", value)
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    payload["trigger_id"] = f"{uuid.uuid4().hex}.edit"  # a trigger opens one view
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        r = await http.post("/slack/interactions", content=signed(payload)[0], headers=signed(payload)[1])
        assert r.status_code == 200, r.text
        (view,) = [v for v in stack.slack.views if wid in v["private_metadata"]]
        assert r.json()["text"] == f"Edit dialog {view['id']} opened"
        inputs = {
            b["block_id"]: b["element"].get("initial_value") for b in view["blocks"] if b["type"] == "input"
        }
        assert inputs == {
            "subject": "🚨 URGENT: Let's Save Your AI Email Success",
            "issues": "campaign performance\nengagement\ndata quality",
            "action_plan": (
                "Today: An urgent call to review your account and agree on a recovery plan\n"
                "This Week: Daily check-ins while we fix the main issues together\n"
                "Next Week: Review the results together and update your success plan"
            ),
        }
        assert "Hi Ana," in json.dumps(view["blocks"])  # the email as it would go

        submit = stack.slack.view_submission(view["id"], "U01MARIA", {**inputs, "action_plan": PLAN})
        r = await http.post("/slack/interactions", content=signed(submit)[0], headers=signed(submit)[1])
        assert (r.status_code, r.content) == (200, b"")  # an empty 200 closes the modal

        key = f"{wid}/retention-critical/urgent-email"
        await eventually(lambda: stack.sendgrid.count_custom_arg("idempotency_key", key) == 1)
        (sent,) = [m for m in stack.sendgrid.messages_to("ana@acme.example") if key in json.dumps(m)]
        assert "1. **Today (2 Dec)**: Call to fix the bounce rate" in json.dumps(sent, ensure_ascii=False)

        again = await http.post("/slack/interactions", content=signed(submit)[0], headers=signed(submit)[1])
        errors = again.json()["errors"]
        assert list(errors) == ["subject"] and "already approved by María García (maria)" in errors["subject"]
        assert stack.sendgrid.count_custom_arg("idempotency_key", key) == 1

        await eventually(
            lambda: (
                "Approved by María García"
                in (next(m for m in stack.slack.messages if m["ts"] == message["ts"])["text"])
            )
        )
        tl = (await http.get(f"/api/accounts/{acct.id}/timeline", headers=bearer("maria"))).json()
        rows = [(e["step_id"], e["outcome"], e["actor"], e["detail"].get("edited")) for e in tl["entries"]]
        assert ("urgent-approval", "approved", "maria", ["action_plan"]) in rows
    await stack.client.get_workflow_handle(wid).terminate("test done")
