"""Helpers for workflow tests: the sample account, a worker pointed at fakes or the outbox,
moving the time-skipping clock, and reading a run's timeline in the account's local time."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from csrunner.config.accounts import load_account, load_team
from csrunner.config.catalog import load_catalog
from csrunner.config.settings import REPO_ROOT, Settings
from csrunner.domain.messages import Action, PlaybookInput, RunView
from workflows.playbook import PlaybookWorkflow

MADRID = ZoneInfo("Europe/Madrid")


def acme():
    return load_account(REPO_ROOT / "examples" / "acme.yaml", load_team(REPO_ROOT / "team.yaml"))


def catalog():
    return load_catalog(REPO_ROOT / "playbooks", REPO_ROOT / "email_templates")


def settings_for(tmp_path: Path, sendgrid=None, slack=None) -> Settings:
    return Settings(
        data_dir=tmp_path,
        task_queue=f"tq-{uuid.uuid4().hex}",
        sendgrid_api_key="SG.test-key" if sendgrid else "",
        sendgrid_api_host=sendgrid.url if sendgrid else "",
        slack_bot_token="xoxb-test-token" if slack else "",
        slack_api_url=f"{slack.url}/api/" if slack else "",
    )


#: Runs started by the current test; conftest terminates them afterwards, because a run left
#: with timers and no worker stops the shared time-skipping server from skipping time.
STARTED: list = []


async def start(env, settings: Settings, playbook: str = "onboarding", account=None, definitions=None):
    account = account or acme()
    handle = await env.client.start_workflow(
        PlaybookWorkflow.run,
        PlaybookInput(
            account=account,
            playbook=playbook,
            definitions=definitions or catalog().bundle(playbook),
            search_attributes=False,
        ),
        id=f"test-{playbook}-{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queue,
    )
    STARTED.append(handle)
    return handle


async def advance_to(env, when: datetime) -> None:
    """Move the test server's clock to `when`, a day at a time (long single sleeps time out)."""
    while (now := await env.get_current_time()) < when:
        await env.sleep(min(when - now, timedelta(days=1)))


def local_day_time(start: datetime, at: datetime) -> tuple[int, str]:
    """(lifecycle day, local HH:MM) in Madrid, counting from the start's local date."""
    s, a = start.astimezone(MADRID), at.astimezone(MADRID)
    return (a.date() - s.date()).days, a.strftime("%H:%M")


def at_local(start: datetime, day: int, hhmm: str) -> datetime:
    s = start.astimezone(MADRID)
    h, m = map(int, hhmm.split(":"))
    return datetime.combine(s.date() + timedelta(days=day), datetime.min.time(), MADRID).replace(
        hour=h, minute=m
    )


async def act(handle, step: str, action: str, actor: str = "maria", **kw) -> RunView:
    return await handle.execute_update(
        PlaybookWorkflow.act, Action(step_id=step, action=action, actor=actor, **kw)
    )


async def view(handle) -> RunView:
    return await handle.query(PlaybookWorkflow.view)
