"""The preview's driver: runs the real PlaybookWorkflow (and the playbooks it hands over to) on
Temporal's time-skipping test server with the real worker in outbox mode, answering approvals
and tasks as the options say, then reads what happened into rows (csrunner/services/preview/rows.py).
"""

from __future__ import annotations

import tempfile
import time
import uuid
import warnings
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from activities.schedule import plan
from csrunner.config.settings import Settings
from csrunner.domain.definitions import PlaybookDefinition
from csrunner.domain.messages import Account, Action, ActionName, PlaybookInput, RunView, ScheduleRequest
from csrunner.services.preview.model import ANSWER_AFTER, Options, Preview
from csrunner.services.preview.rows import gates, rows
from csrunner.services.temporal import test_server_path
from workflows.playbook import PlaybookWorkflow

Handle = WorkflowHandle[PlaybookWorkflow, RunView]


def quiet_runtime() -> Runtime:
    """The SDK's own log lines are noise in a report."""
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
    )


async def start_server() -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=test_server_path(),
        runtime=quiet_runtime(),
    )


async def preview(
    definitions: dict[str, PlaybookDefinition],
    playbook: str,
    account: Account,
    options: Options | None = None,
    templates_dir: Path | None = None,
    env: WorkflowEnvironment | None = None,
) -> Preview:
    """Run `playbook` (with the snapshot `definitions`, as a real run carries) for `account`."""
    options = options or Options()
    if env is None:
        async with await start_server() as own:
            return await _preview(own, definitions, playbook, account, options, templates_dir)
    return await _preview(env, definitions, playbook, account, options, templates_dir)


async def _preview(
    env: WorkflowEnvironment,
    definitions: dict[str, PlaybookDefinition],
    playbook: str,
    account: Account,
    options: Options,
    templates_dir: Path | None,
) -> Preview:
    import worker  # the repo's worker module: the same activities as production, in outbox mode

    began, tz = time.monotonic(), ZoneInfo(account.timezone)
    with tempfile.TemporaryDirectory(prefix="csr-preview-") as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Module .* was imported after initial workflow load")
        settings = Settings(
            data_dir=Path(tmp),
            task_queue=f"preview-{uuid.uuid4().hex}",
            templates_dir=Path(templates_dir or Settings().templates_dir),
            sendgrid_api_key="",
            slack_bot_token="",
        )
        start = await advance_to_local(env, tz, options.start_at)
        async with worker.build_worker(env.client, settings):
            handle = await env.client.start_workflow(
                PlaybookWorkflow.run,
                PlaybookInput(
                    account=account, playbook=playbook, definitions=definitions, search_attributes=False
                ),
                id=f"preview-{account.id}-{playbook}-{uuid.uuid4().hex[:8]}",
                task_queue=settings.task_queue,
            )
            try:
                view, ending = await _drive(env, handle, definitions, account, options, start)
            finally:  # a run left with timers would keep a shared test server from skipping time
                if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                    await handle.terminate("preview over")
        found = rows(view, definitions, account, start, Path(tmp) / "outbox", handle.id)
    chain = _chain(view, playbook)
    return Preview(
        playbook,
        [f"{p} v{definitions[p].version} ({definitions[p].content_hash})" for p in chain],
        account,
        options,
        found,
        gates(definitions, chain, account),
        ending,
        time.monotonic() - began,
        view,
    )


async def advance_to_local(env: WorkflowEnvironment, tz: ZoneInfo, hhmm: str) -> datetime:
    """Move the server clock to the next `hhmm` local time, so every preview reads the same."""
    now = await env.get_current_time()
    local = now.astimezone(tz)
    hour, minute = (int(x) for x in hhmm.split(":"))
    target = datetime.combine(local.date(), dtime(hour, minute), tzinfo=tz)
    if target <= local:
        target = datetime.combine(local.date() + timedelta(days=1), target.timetz())
    while (now := await env.get_current_time()) < target:
        await env.sleep(min(target - now, timedelta(days=1)))  # long single sleeps time out
    return target


async def _drive(
    env: WorkflowEnvironment,
    handle: Handle,
    definitions: dict[str, PlaybookDefinition],
    account: Account,
    options: Options,
    start: datetime,
) -> tuple[RunView, str]:
    """Answer what the options say, waking only when something can happen."""
    await env.sleep(ANSWER_AFTER)
    while True:
        now = await env.get_current_time()
        if await answer_pending(handle, await handle.query(PlaybookWorkflow.view), options, now):
            await env.sleep(timedelta(seconds=1))  # let the run act on the answers
        view = await handle.query(PlaybookWorkflow.view)
        where = _where(view, start, ZoneInfo(account.timezone))
        if view.status == "completed":
            return view, f"The run completes on {where}."
        stuck = [p for p in view.pending if p.kind == "approval" and p.due_at is None]
        if stuck and options.approvals == "none":
            return view, (
                f"On {where} nobody has answered '{stuck[0].step_id}': it stays pending, marked "
                "overdue, and the run waits at this gate until someone answers."
            )
        if now - start > timedelta(days=options.max_days):
            return (
                view,
                f"The preview stops after {options.max_days} days ({where}); the run is still {view.status}.",
            )
        wake = _next_wake(view, definitions, account, start, now)
        while (now := await env.get_current_time()) < wake:
            await env.sleep(min(wake - now, timedelta(days=1)))


async def answer_pending(handle: Handle, view: RunView, options: Options, now: datetime) -> bool:
    """Answer, as its assignee, every pending item open for 30 minutes that the options answer."""
    acted = False
    for p in view.pending:
        if p.opened_at + ANSWER_AFTER > now:
            continue
        action: ActionName
        if p.kind == "approval" and options.approvals != "none":
            action = options.approvals
        elif p.kind == "task" and options.tasks == "complete":
            action = "complete"
        else:
            continue
        try:
            await handle.execute_update(
                PlaybookWorkflow.act,
                Action(
                    step_id=p.step_id,
                    action=action,
                    actor=p.assignee,
                    value=options.answer if p.records else None,
                ),
            )
            acted = True
        except WorkflowUpdateFailedError:
            pass  # answered meanwhile (e.g. by its deadline)
    return acted


def _next_wake(
    view: RunView,
    definitions: dict[str, PlaybookDefinition],
    account: Account,
    start: datetime,
    now: datetime,
) -> datetime:
    """30 minutes after the next step time, deadline or snooze end; at most a day ahead."""
    defn = definitions[view.playbook]
    handovers = [r.at for r in view.timeline if r.outcome == "handed_over"]
    began = handovers[-1] if handovers else start  # the current playbook began at the last handover
    times = plan(
        ScheduleRequest(
            timezone=account.timezone,
            start=began,
            default_time=defn.default_time,
            steps=[(s.id, s.day, s.at) for s in defn.steps],
        )
    ).steps.values()
    marks = [
        *times,
        *(p.due_at for p in view.pending if p.due_at),
        *(p.snoozed_until for p in view.pending if p.snoozed_until),
    ]
    marks = [m + ANSWER_AFTER for m in marks] + [p.opened_at + ANSWER_AFTER for p in view.pending]
    return min([m for m in marks if m > now] + [now + timedelta(days=1)])


def _chain(view: RunView, first: str) -> list[str]:
    return [first, *(r.detail["playbook"] for r in view.timeline if r.outcome == "handed_over")]


def _where(view: RunView, start: datetime, tz: ZoneInfo) -> str:
    at = view.timeline[-1].at if view.timeline else start
    local = at.astimezone(tz)
    return f"day {(local.date() - start.astimezone(tz).date()).days} at {local:%H:%M}"
