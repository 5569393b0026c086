"""Helpers for the journey tests (no tests here): a sample account, a clock on the time-skipping
server that moves in steps of at most a day, a CSM who answers what is pending, and the
lifecycle read back from every play's timeline."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from csrunner.config.settings import Settings
from csrunner.domain import journey_view
from csrunner.domain.messages import Account, Action, RunView
from csrunner.services import journeys
from csrunner.services.runs import act
from worker import build_worker
from workflows.playbook import PlaybookWorkflow

ACCOUNT = Account.model_validate(
    {
        "id": "acme",
        "name": "Acme Retail",
        "timezone": "UTC",
        "plan": "Professional",
        "contacts": [{"name": "Ana López", "email": "ana@acme.example", "role": "champion"}],
        "csm": {
            "id": "maria",
            "name": "María García",
            "email": "maria@cs.example.com",
            "slack_user": "U01MARIA",
            "phone": "+34 600 000 001",
        },
        "manager": {
            "id": "carlos",
            "name": "Carlos Ruiz",
            "email": "carlos@cs.example.com",
            "slack_user": "U01CARLOS",
        },
        "executive": {
            "id": "elena",
            "name": "Elena Torres",
            "email": "elena@cs.example.com",
            "slack_user": "U01ELENA",
        },
    }
)


def account(account_id: str) -> Account:
    return ACCOUNT.model_copy(update={"id": account_id})


def settings_for(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, task_queue="tq-" + uuid4().hex)


def continue_as_new_after(monkeypatch, signals: int) -> None:
    """A journey run that received `signals` signals continues-as-new (also when replayed)."""
    reason = journey_view.continue_as_new_reason
    monkeypatch.setattr(
        journey_view,
        "continue_as_new_reason",
        lambda rules, length, received, suggested: (
            "forced by the test" if received >= signals else reason(rules, length, received, suggested)
        ),
    )


@asynccontextmanager
async def journey_worker(client, settings, *account_ids: str):
    """A worker for the test; on the way out the journeys of `account_ids` and every play they
    started are terminated, so their timers cannot hold up later tests' time skipping."""
    async with build_worker(client, settings):
        try:
            yield
        finally:
            # Let activities in flight finish first: the time-skipping server keeps time locked
            # for an activity whose workflow was terminated while it ran.
            await asyncio.sleep(0.5)
            for account_id in account_ids:
                await _terminate(client, account_id)


async def _terminate(client, account_id: str) -> None:
    ids = []
    try:
        ids = [p.workflow_id for p in (await journeys.journey_view(client, account_id)).plays]
    except Exception:  # no journey
        pass
    for wid in [*ids, journeys.journey_id(account_id)]:
        try:
            await client.get_workflow_handle(wid).terminate("test over")
        except Exception:  # already closed
            pass


class Clock:
    """Lifecycle time on the time-skipping server: day 0 starts at the next UTC midnight."""

    def __init__(self, env):
        self.env = env
        self.base: datetime | None = None

    async def start(self) -> datetime:
        now = await self.env.get_current_time()
        self.base = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        await self.to(0, 0, 30)
        return self.base

    async def to(self, day: int, hour: int = 12, minute: int = 0) -> None:
        target = self.base + timedelta(days=day, hours=hour, minutes=minute)
        while (now := await self.env.get_current_time()) < target:
            await self.env.sleep(min(target - now, timedelta(days=1)))

    def day(self, at: datetime) -> int:
        return (at - self.base) // timedelta(days=1)


async def run_view(client, wid: str) -> RunView:
    return await client.get_workflow_handle(wid).query(PlaybookWorkflow.view)


#: What the CSM writes into an email's empty editable parts when approving it.
WRITTEN = {"opportunity": "extend your campaigns to the marketing team that just doubled"}


async def csm_pass(
    env, client, account_id: str, leave: set[str] = frozenset(), actor: str = "maria"
) -> list[str]:
    """The CSM answers everything pending in the account's running plays (approve approvals,
    complete tasks, saying yes where a task records a fact), except the step ids in `leave`."""
    done = []
    for _ in range(6):
        view = await journeys.journey_view(client, account_id)
        acted = False
        for play in view.plays:
            if play.status != "running":
                continue
            rv = await run_view(client, play.workflow_id)
            for p in rv.pending:
                if p.step_id in leave:
                    continue
                action = "approve" if p.kind == "approval" else "complete"
                # parts the email cannot go without (expansion's opportunity) are written by the CSM
                edits = {k: WRITTEN.get(k, k) for k, v in p.editable.items() if not v.strip()}
                await act(
                    client,
                    play.workflow_id,
                    Action(
                        step_id=p.step_id,
                        action=action,
                        actor=actor,
                        value=True if p.records else None,
                        edits=edits,
                    ),
                )
                done.append(f"{play.playbook}:{p.step_id}")
                acted = True
        if not acted:
            break
        await env.sleep(timedelta(minutes=1))  # let the plays go on to their next steps
    return done


async def lifecycle_records(client, clock: Clock, account_id: str, skip=("completed",)) -> list[str]:
    """Every play's timeline as 'day play step outcome [to|by]' lines, in time order."""
    view = await journeys.journey_view(client, account_id)
    rows = []
    for play in view.plays:
        rv = await run_view(client, play.workflow_id)
        name = f"{play.playbook}/{play.n}"
        for r in rv.timeline:
            if r.outcome in skip:
                continue
            who = (
                r.detail.get("to") if r.outcome == "escalated" else (r.actor if r.actor != "playbook" else "")
            )
            if r.kind == "start_playbook":
                who = r.detail.get("playbook", "")
            rows.append((r.at, f"{clock.day(r.at):>3} {name} {r.step_id} {r.outcome} {who}".rstrip()))
    return [line for _, line in sorted(rows, key=lambda x: x[0])]


async def run_histories(client, workflow_id: str) -> list:
    """The history of every run of the workflow id, first run first (walks continue-as-new back
    from the latest run)."""
    histories, run_id = [], None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        started = history.events[0].workflow_execution_started_event_attributes
        if not started.continued_execution_run_id:
            return histories[::-1]
        run_id = started.continued_execution_run_id
