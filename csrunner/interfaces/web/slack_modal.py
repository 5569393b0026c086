"""Slack's "Edit" button on an approval request: it opens a modal (views.open) showing the email
as it would go and its editable parts as inputs; submitting it (`view_submission`) approves with
the parts changed. The run's own `approval_decided` update then rewrites the request message, as
for Approve. A refusal (an empty required part, already decided, no rights) is shown in the modal."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi.responses import JSONResponse, Response
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from activities.slack import escape_mrkdwn
from csrunner.domain.messages import EDIT_MAX, Action
from csrunner.interfaces.web.auth import Principal
from csrunner.interfaces.web.errors import ServiceError, temporal_call
from csrunner.interfaces.web.work import perform
from csrunner.services.runs import decided
from csrunner.services.runs import view as run_view

log = logging.getLogger(__name__)
CALLBACK = "edit-email"
_TEXT_MAX = 2900  # a section's text is at most 3000 characters


def _label(part: str) -> str:
    return part.replace("_", " ").capitalize()[:2000]


async def _pending(svc, workflow_id: str, step_id: str):
    client = await svc.client()
    async with temporal_call(svc, f"reading run {workflow_id!r}"):
        v = await run_view(client, workflow_id)
    p = next((p for p in v.pending if p.step_id == step_id and p.kind == "approval"), None)
    if p is None:
        why = decided(svc.team, v, step_id) or f"step '{step_id}' is not waiting for approval"
        raise ServiceError(409, why)
    return p


def modal(workflow_id: str, step_id: str, preview: dict[str, str], parts: dict[str, str]) -> dict[str, Any]:
    to, subject = (escape_mrkdwn(preview.get(k, "")) for k in ("to", "subject"))
    head = f"*To:* {to}\n*Subject:* {subject}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": head[:_TEXT_MAX]}},
        {"type": "section", "text": {"type": "plain_text", "text": (preview.get("text") or "-")[:_TEXT_MAX]}},
        {"type": "divider"},
    ]
    for part, text in parts.items():
        element: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": "value",
            "multiline": part != "subject",
            "max_length": EDIT_MAX,
        }
        if text:
            element["initial_value"] = text[:EDIT_MAX]
        blocks.append(
            {"type": "input", "block_id": part, "label": {"type": "plain_text", "text": _label(part)},
             "element": element, "optional": True}
        )  # fmt: skip
    return {
        "type": "modal",
        "callback_id": CALLBACK,
        "private_metadata": json.dumps({"run": workflow_id, "step": step_id}),
        "title": {"type": "plain_text", "text": "Edit and approve"},
        "submit": {"type": "plain_text", "text": "Approve"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


async def open_editor(svc, payload: dict, workflow_id: str, step_id: str) -> dict[str, Any]:
    """views.open with the item's current email and parts; returns the view as opened."""
    if not svc.settings.slack_bot_token:
        raise ServiceError(503, "the Edit dialog needs SLACK_BOT_TOKEN (use the inbox to edit)")
    p = await _pending(svc, workflow_id, step_id)
    if not p.editable:
        raise ServiceError(409, f"step '{step_id}' has nothing to edit: approve or skip it")
    view = modal(workflow_id, step_id, p.preview, p.editable)
    client = WebClient(token=svc.settings.slack_bot_token, base_url=svc.settings.slack_api_url)
    try:
        res = await asyncio.to_thread(
            client.views_open, trigger_id=str(payload.get("trigger_id", "")), view=view
        )
    except SlackClientError as e:
        log.warning("views.open failed for %s/%s: %s", workflow_id, step_id, e)
        raise ServiceError(502, f"Slack refused to open the Edit dialog: {e}") from None
    return dict(res["view"])


async def submitted(svc, payload: dict) -> Response:
    """A modal's submit: approve with the parts changed from the text shown. Slack expects an
    empty 200 (the modal closes) or `response_action: errors` naming an input block."""
    view: dict[str, Any] = payload["view"] if isinstance(payload.get("view"), dict) else {}
    if view.get("callback_id") != CALLBACK:
        return JSONResponse({"ok": True, "text": "ignored: not an Edit dialog"})
    try:
        meta = json.loads(str(view.get("private_metadata", "")))
        workflow_id, step_id = str(meta["run"]), str(meta["step"])
    except (ValueError, KeyError, TypeError):
        raise ServiceError(
            400, "view.private_metadata must be the JSON the Edit dialog was opened with"
        ) from None
    user: dict[str, Any] = payload["user"] if isinstance(payload.get("user"), dict) else {}
    member = svc.by_slack(str(user.get("id", "")))
    values: dict[str, Any] = (view.get("state") or {}).get("values") or {}
    first = next(iter(values), "")
    if member is None:
        why = "you are not a known team member (no `slack_user` in the team file): nothing was done"
        return JSONResponse({"response_action": "errors", "errors": {first: why}})
    given = {
        part: str((v.get("value") or {}).get("value") or "").replace("\r\n", "\n").strip()
        for part, v in values.items()
        if isinstance(v, dict)
    }
    try:
        shown = (await _pending(svc, workflow_id, step_id)).editable
        edits = {k: v for k, v in given.items() if k in shown and v != shown[k].strip()}
        action = Action(step_id=step_id, action="approve", actor=member.id, reason="via Slack", edits=edits)
        await perform(svc, Principal(member), workflow_id, action)
    except ServiceError as e:
        block = next((k for k in values if f"'{k}'" in e.message), first)
        return JSONResponse({"response_action": "errors", "errors": {block: e.message[:500]}})
    except ValueError as e:  # an edit too long or with control characters
        return JSONResponse({"response_action": "errors", "errors": {first: str(e)[:500]}})
    return Response(status_code=200)
