"""Slack: render a `slack/<name>` template and post it (with buttons for approvals) through
slack_sdk's WebClient, or write it to the outbox when no bot token is set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import TemplateError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from temporalio import activity

from activities import metrics
from activities.errors import permanent, transient
from activities.outbox import write_markdown
from activities.render import Renderer, template_context
from activities.store import Ledger
from csrunner.config.accounts import load_team
from csrunner.config.settings import Settings
from csrunner.config.sourcemap import DefinitionError
from csrunner.domain.context import person_context
from csrunner.domain.messages import Person, SlackRequest, SlackResult

SECTION_MAX = 3000  # Block Kit section text limit
_MRKDWN = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape_mrkdwn(value: Any) -> Any:
    """Slack's three control characters escaped in every string of a value (recursively): an
    NPS comment of `<!channel>` or `<https://evil.example|log in>` arrives as text, not as a
    mention or a link. Template text (ours) keeps its formatting."""
    if isinstance(value, str):
        return value.translate(_MRKDWN)
    if isinstance(value, dict):
        return {k: escape_mrkdwn(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [escape_mrkdwn(v) for v in value]
    return value


TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


def blocks_for(text: str, req: SlackRequest) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_MAX]}}
    ]
    if req.buttons:
        blocks.append(
            {
                "type": "actions",
                "block_id": "playbook_actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": b.text[:75]},
                        "action_id": b.action_id,
                        "value": b.value,
                        **({"style": b.style} if b.style else {}),
                    }
                    for b in req.buttons
                ],
            }
        )
    return blocks


def _named(req: SlackRequest, team: list[Person]) -> dict[str, Any]:
    """The context with a decision's actor shown by name ("Approved by María García") when the
    actor is one of the account's people or of the team (other ids stay as they are), and the
    `reader`: the person the message goes to (the CSM for a channel), whose zone its times use."""
    ctx = dict(req.context)
    account = [p for p in (req.account.csm, req.account.manager, req.account.executive) if p is not None]
    people = account + team  # the account's copy first: it is what the run was started with
    decision = ctx.get("decision")
    if isinstance(decision, dict) and isinstance(decision.get("actor"), str):
        who = next((p for p in people if p.id == decision["actor"]), None)
        if who is not None:
            ctx["decision"] = {**decision, "actor": who.name}
    reader = next((p for p in people if req.to in (p.slack_user, f"@{p.id}")), req.account.csm)
    ctx["reader"] = person_context(reader)
    return ctx


class SlackActivities:
    def __init__(self, settings: Settings, renderer: Renderer, ledger: Ledger):
        self.settings, self.renderer, self.ledger = settings, renderer, ledger
        self._team: list[Person] = []
        self._team_mtime: float | None = None
        self._client = (
            WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)
            if settings.slack_bot_token
            else None
        )

    @activity.defn
    @metrics.delivery("slack")
    def post_slack(self, req: SlackRequest) -> SlackResult:
        done = self.ledger.get(req.key)
        if done:
            metrics.message("slack", "duplicate", req)
            return SlackResult(**{**done, "duplicate": True})
        try:
            ctx = escape_mrkdwn(template_context(req.account, **_named(req, self.team())))
            text = self.renderer.render_blocks(f"slack/{req.template}", "en", ctx, ("text",))["text"]
        except TemplateError as e:
            raise permanent(f"template 'slack/{req.template}': {e}") from None
        if self._client is None:
            buttons = " ".join(f"[{b.text}]" for b in req.buttons)
            write_markdown(
                self.settings.outbox_dir,
                "slack",
                req.key,
                f"To: {req.to}\n\n{text}\n\n{buttons}\n".rstrip() + "\n",
            )
            result = SlackResult(channel=req.to, ts=req.key, text=text)
        else:
            result = self._call(req, text)
        self.ledger.put(req.key, "slack", result.model_dump(mode="json"))
        metrics.message("outbox" if self._client is None else "slack", "sent", req)
        return result

    def team(self) -> list[Person]:
        """team.yaml's people, re-read when ops edit it (a broken edit keeps the last good team)."""
        path = Path(self.settings.team_file)
        mtime = path.stat().st_mtime if path.is_file() else None
        if mtime != self._team_mtime:
            try:
                self._team = list(load_team(path).people)
            except DefinitionError:
                pass
            self._team_mtime = mtime
        return self._team

    def _call(self, req: SlackRequest, text: str) -> SlackResult:
        assert self._client is not None  # post_slack writes to the outbox without a client
        try:
            if req.update:
                resp = self._client.chat_update(
                    channel=req.update["channel"],
                    ts=req.update["ts"],
                    text=text,
                    blocks=blocks_for(text, req),
                )
            else:
                resp = self._client.chat_postMessage(channel=req.to, text=text, blocks=blocks_for(text, req))
        except SlackApiError as e:
            error = (e.response.data or {}).get("error", "") if e.response is not None else ""
            status = e.response.status_code if e.response is not None else 0
            if status == 429 or status >= 500 or error in TRANSIENT_ERRORS:
                retry_after = e.response.headers.get("Retry-After") if e.response is not None else None
                raise transient(
                    f"Slack {error or status}", float(retry_after) if retry_after else None
                ) from None
            raise permanent(f"Slack refused the message: {error or status}", status) from None
        except (SlackClientError, OSError) as e:
            raise transient(f"Slack unreachable: {e}") from None
        return SlackResult(channel=resp["channel"], ts=resp["ts"], text=text)
