"""Slack buttons end to end: the worker posts the approval request to the fake Slack; a signed
`block_actions` click (as Slack sends it) approves it; the gated email reaches the fake
SendGrid exactly once; the message says who did it. The dev server does not skip time, so a
test catalog holds onboarding's day-4 approval and email on day 0."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
from e2e_helpers import SLACK_SECRET, account, bearer, eventually
from slack_sdk.signature import SignatureVerifier

from csrunner.services.runs import start_run

SPEC = json.loads(
    (Path(__file__).resolve().parents[1] / "fakes" / "specs" / "slack_block_actions_payload.json").read_text()
)


async def start_pilot(stack, pilot_catalog):
    acct = account()
    wid, started = await start_run(
        stack.client,
        stack.settings,
        pilot_catalog,
        acct,
        "pilot-approval",
        workflow_id=f"test:{acct.id}:pilot",
    )
    assert started
    value = f"{wid}|day4-approve"

    def request_message():
        return next((m for m in stack.slack.messages if value in json.dumps(m["blocks"] or [])), None)

    return acct, wid, await eventually(request_message)


def signed_click(message: dict, user: str, action_id: str, value: str) -> tuple[bytes, dict]:
    """Slack's block_actions payload (shape from the spec's captured one), form-encoded and signed."""
    payload = json.loads(json.dumps(SPEC["payload"]))
    payload.update(
        user={"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T111"},
        container={
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": message["channel"],
            "is_ephemeral": False,
        },
        channel={"id": message["channel"], "name": "dm"},
        message={
            "type": "message",
            "ts": message["ts"],
            "text": message["text"],
            "blocks": message["blocks"],
        },
        actions=[
            {
                "action_id": action_id,
                "block_id": "playbook_actions",
                "value": value,
                "type": "button",
                "text": {"type": "plain_text", "text": action_id.title()},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    )
    body = str(httpx.QueryParams({"payload": json.dumps(payload)})).encode()
    ts = str(int(time.time()))
    sig = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=ts, body=body)
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sig,
    }


async def test_slack_click_approves_and_the_email_is_sent_once(stack, pilot_catalog):
    acct, wid, message = await start_pilot(stack, pilot_catalog)
    key = f"{wid}/pilot-approval/day4-pilot-review"
    assert stack.sendgrid.count_custom_arg("idempotency_key", key) == 0  # gated until approved
    body, headers = signed_click(message, "U01MARIA", "approve", f"{wid}|day4-approve")
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        r = await http.post("/slack/interactions", content=body, headers=headers)
        assert r.status_code == 200 and "Approved by María García" in r.json()["text"], r.text
        assert r.json()["text"].endswith(" (Madrid)")  # when, in María's zone (team.yaml)
        await eventually(lambda: stack.sendgrid.count_custom_arg("idempotency_key", key) == 1)
        again = await http.post("/slack/interactions", content=body, headers=headers)  # a second click
        assert (
            again.status_code == 409 and "already approved by María García (maria)" in again.json()["error"]
        )
        await asyncio.sleep(1.0)
        assert stack.sendgrid.count_custom_arg("idempotency_key", key) == 1
        sent = stack.sendgrid.messages_to("ana@acme.example")
        assert any(m["custom_args"].get("idempotency_key") == key for m in sent)
        updated = next(m for m in stack.slack.messages if m["ts"] == message["ts"])
        assert "María García" in json.dumps(updated["blocks"]) or "maria" in (updated["text"] or "")
        tl = (await http.get(f"/api/accounts/{acct.id}/timeline", headers=bearer("maria"))).json()
        approved = [e for e in tl["entries"] if e["outcome"] == "approved"]
        assert approved and approved[0]["actor"] == "maria" and approved[0]["actor_name"] == "María García"
        assert any(e["outcome"] == "sent" and e["step_id"] == "day4-pilot-review" for e in tl["entries"])


async def test_unknown_slack_user_is_refused_and_the_message_says_so(stack, pilot_catalog):
    acct, wid, message = await start_pilot(stack, pilot_catalog)
    body, headers = signed_click(message, "W999STRANGER", "approve", f"{wid}|day4-approve")
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        r = await http.post("/slack/interactions", content=body, headers=headers)
        assert r.status_code == 403 and "not a known team member" in r.json()["error"]
        msg = next(m for m in stack.slack.messages if m["ts"] == message["ts"])
        assert "not a known team member" in json.dumps(msg["blocks"])
        # Tom is a CSM, but not this account's: refused too, and nothing changed on the run.
        body, headers = signed_click(message, "U01TOM", "approve", f"{wid}|day4-approve")
        r = await http.post("/slack/interactions", content=body, headers=headers)
        assert r.status_code == 403 and "may not act" in r.json()["error"]
        pending = (await http.get("/api/pending", headers=bearer("maria"))).json()
        assert any(p["workflow_id"] == wid and p["step_id"] == "day4-approve" for p in pending)
        # Snooze from Slack keeps the buttons and the approval pending.
        body, headers = signed_click(message, "U01MARIA", "snooze", f"{wid}|day4-approve")
        r = await http.post("/slack/interactions", content=body, headers=headers)
        assert r.status_code == 200 and "Snoozed" in r.json()["text"]
    await stack.client.get_workflow_handle(wid).terminate("test done")
