"""Slack's Approve / Edit / Skip / Snooze buttons (`block_actions`, form field `payload`), verified
with Slack's signing secret (Edit opens a modal, whose `view_submission` approves: slack_modal.py).
The click acts on the run as the team member whose `slack_user` clicked,
and the message is updated at once to say who did what (or why the click was refused)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.signature import SignatureVerifier

from activities.outbox import write_markdown
from activities.slack import escape_mrkdwn
from csrunner.domain.messages import Action
from csrunner.domain.timefmt import human_time
from csrunner.interfaces.web import slack_modal
from csrunner.interfaces.web.auth import Principal
from csrunner.interfaces.web.errors import ServiceError, error_responses
from csrunner.interfaces.web.work import perform

log = logging.getLogger(__name__)
router = APIRouter(tags=["slack"])
BUTTONS = {
    "approve": ("approve", ":white_check_mark: Approved"),
    "skip": ("skip", ":fast_forward: Skipped"),
    "snooze": ("snooze", ":zzz: Snoozed for a day"),
}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["payload"],
                    "properties": {
                        "payload": {
                            "type": "string",
                            "description": "the block_actions or view_submission payload as JSON",
                        }
                    },
                }
            }
        },
    },
    "parameters": [
        {"name": n, "in": "header", "required": True, "schema": {"type": "string"}}
        for n in ("X-Slack-Signature", "X-Slack-Request-Timestamp")
    ],
}


class SlackAnswer(BaseModel):
    ok: bool
    text: str


def _verify(secret: str, raw: bytes, headers) -> None:
    if not secret:
        raise ServiceError(401, "Slack interactions are disabled: SLACK_SIGNING_SECRET is not set")
    ts = headers.get("x-slack-request-timestamp", "")
    if not ts.isdigit() or not headers.get("x-slack-signature"):
        raise ServiceError(401, "missing X-Slack-Signature or X-Slack-Request-Timestamp")
    if abs(time.time() - int(ts)) > 300:
        raise ServiceError(
            401, "stale request: X-Slack-Request-Timestamp is more than 5 minutes away from now"
        )
    if not SignatureVerifier(secret).is_valid_request(raw, dict(headers)):
        raise ServiceError(401, "bad signature (X-Slack-Signature)")


def _payload(raw: bytes) -> dict:
    try:
        form = parse_qs(raw.decode("utf-8"), strict_parsing=False)
        payload = json.loads(form["payload"][0])
    except (KeyError, IndexError, UnicodeDecodeError):
        raise ServiceError(400, "form field 'payload' is missing") from None
    except ValueError as e:
        raise ServiceError(400, f"form field 'payload' is not JSON: {e}") from None
    if not isinstance(payload, dict):
        raise ServiceError(400, "form field 'payload' must be a JSON object")
    return payload


@router.post(
    "/slack/interactions",
    response_model=SlackAnswer,
    openapi_extra=_BODY,
    responses=error_responses(400, 401, 403, 404, 409, 413, 503),
    summary="Slack interactivity: Approve / Edit / Skip / Snooze clicks, and the Edit dialog's submit",
)
async def interactions(request: Request):
    svc = request.app.state.svc
    raw = await request.body()
    _verify(svc.config.slack_signing_secret, raw, request.headers)
    payload = _payload(raw)
    if payload.get("type") == "view_submission":
        return await slack_modal.submitted(svc, payload)
    if payload.get("type") != "block_actions":
        return SlackAnswer(ok=True, text=f"ignored: {payload.get('type')!r} interactions are not used")
    raw_actions: list[Any] = payload["actions"] if isinstance(payload.get("actions"), list) else []
    known = {*BUTTONS, "edit"}
    actions = [a for a in raw_actions if isinstance(a, dict) and a.get("action_id") in known]
    if not actions:
        return SlackAnswer(ok=True, text="ignored: no approval button in this interaction")
    user: dict[str, Any] = payload["user"] if isinstance(payload.get("user"), dict) else {}
    member = svc.by_slack(str(user.get("id", "")))
    if member is None:
        slack_id = escape_mrkdwn(str(user.get("id", "?"))[:30])
        why = (
            f":no_entry: Click refused: Slack user <@{slack_id}> is not a known team member "
            f"(no `slack_user` in the team file); nothing was done."
        )
        await update_message(svc, payload, why, final=False)
        return JSONResponse({"error": why}, status_code=403)
    a = actions[0]  # Slack sends the one button clicked
    workflow_id, _, step_id = str(a.get("value", "")).partition("|")
    if not workflow_id or not step_id:
        raise ServiceError(400, "button value must be '<workflow_id>|<step_id>'")
    if a["action_id"] == "edit":
        try:
            opened = await slack_modal.open_editor(svc, payload, workflow_id, step_id)
        except ServiceError as e:
            await update_message(svc, payload, f":warning: {escape_mrkdwn(e.message)}", final=False)
            return JSONResponse({"error": e.message}, status_code=e.status)
        return SlackAnswer(ok=True, text=f"Edit dialog {opened.get('id', '')} opened")
    name, verb = BUTTONS[a["action_id"]]
    until = datetime.now(UTC) + timedelta(days=1) if name == "snooze" else None
    action = Action(step_id=step_id, action=name, actor=member.id, reason="via Slack", until=until)
    try:
        await perform(svc, Principal(member), workflow_id, action)
    except ServiceError as e:
        note = f":warning: {escape_mrkdwn(member.name)}: {escape_mrkdwn(e.message)}"
        await update_message(svc, payload, note, final=False)
        return JSONResponse({"error": e.message}, status_code=e.status)
    # the time in the clicker's own zone (team.yaml), as they will read it
    text = f"{verb} by {escape_mrkdwn(member.name)} at {human_time(datetime.now(UTC), member.timezone)}"
    await update_message(svc, payload, text, final=name != "snooze")
    return SlackAnswer(ok=True, text=text)


def _blocks(payload: dict, note: str, final: bool) -> list[dict]:
    """The original message, its buttons gone once decided, with a line saying what happened."""
    message: dict[str, Any] = payload["message"] if isinstance(payload.get("message"), dict) else {}
    blocks = [
        b
        for b in message.get("blocks") or []
        if isinstance(b, dict)
        and not (final and b.get("type") == "actions")
        and b.get("block_id") != "playbook_outcome"
    ]
    return blocks[:45] + [
        {
            "type": "context",
            "block_id": "playbook_outcome",
            "elements": [{"type": "mrkdwn", "text": note[:2900]}],
        }
    ]


async def update_message(svc, payload: dict, note: str, final: bool) -> None:
    """chat.update with the bot token; without one, Slack's response_url, else the outbox.
    The action already stands, so a failure here is logged, not answered."""
    container: dict[str, Any] = payload["container"] if isinstance(payload.get("container"), dict) else {}
    channel, ts = container.get("channel_id"), container.get("message_ts")
    blocks, text = _blocks(payload, note, final), note
    try:
        if svc.settings.slack_bot_token and channel and ts:
            client = WebClient(token=svc.settings.slack_bot_token, base_url=svc.settings.slack_api_url)
            await asyncio.to_thread(client.chat_update, channel=channel, ts=ts, text=text, blocks=blocks)
        elif isinstance(payload.get("response_url"), str) and payload["response_url"].startswith("https://"):
            async with httpx.AsyncClient(timeout=5) as http:
                await http.post(
                    payload["response_url"], json={"replace_original": True, "text": text, "blocks": blocks}
                )
        else:
            await asyncio.to_thread(
                write_markdown,
                svc.settings.outbox_dir,
                "slack",
                f"update-{channel}-{ts}-{time.time_ns()}",
                f"Update {channel} {ts}\n\n{text}\n",
            )
    except (SlackClientError, httpx.HTTPError, OSError) as e:
        log.warning("could not update the Slack message %s/%s: %s", channel, ts, e)
