"""Preview: what a playbook will do for a sample account over its whole timeline, before it ships.

It runs the real PlaybookWorkflow (and the playbooks it hands over to) on Temporal's time-skipping
test server with the real worker in outbox mode: every template is rendered by the real
activities and nothing leaves the machine. A stand-in for the people answers approvals and tasks
as the options say, 30 minutes after they open; with approvals "none" the timeline shows what the
deadlines do. Output: Markdown or HTML for review, and the diff of two versions' timelines.
"""

from __future__ import annotations

import email
import email.policy
import html
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Literal, Optional
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from activities.outbox import file_name as outbox_file
from activities.schedule import plan
from csrunner.config.settings import Settings
from csrunner.domain.definitions import ApprovalStep, PlaybookDefinition
from csrunner.domain.messages import Account, Action, PlaybookInput, RunView, ScheduleRequest
from csrunner.services.temporal import test_server_path
from workflows.playbook import PlaybookWorkflow

ANSWER_AFTER = timedelta(minutes=30)
CHANNEL = {
    "email": "email",
    "slack": "Slack",
    "task": "task",
    "approval": "approval",
    "wait": "milestone",
    "start_playbook": "handover",
    "run": "run",
}
ANSWERS = {"approved", "skipped", "completed", "snoozed", "reassigned"}  # shown on the row they answer


@dataclass
class Options:
    approvals: Literal["approve", "skip", "none"] = "approve"
    tasks: Literal["complete", "none"] = "complete"
    answer: bool = True  # what a task that records a fact says (e.g. first value reached)
    body: bool = False
    start_at: str = "10:00"  # local time on day 0 when the run starts (the deal closes)
    max_days: int = 120


@dataclass
class Row:
    day: int
    time: str  # local HH:MM
    playbook: str
    step: str
    channel: str
    to: str
    what: str  # rendered subject, Slack first line, task title, ...
    outcome: str
    body: str = ""


@dataclass
class Preview:
    playbook: str
    versions: list[str]  # "onboarding v1 (1ddb34d49550)" for each playbook the run went through
    account: Account
    options: Options
    rows: list[Row]
    gates: list[str]
    ending: str
    seconds: float = 0.0
    view: Optional[RunView] = field(default=None, repr=False)


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


async def _preview(env, definitions, playbook, account, options, templates_dir) -> Preview:
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
                if (await handle.describe()).status.name == "RUNNING":
                    await handle.terminate("preview over")
        rows = _rows(view, definitions, account, start, Path(tmp) / "outbox", handle.id)
    chain = _chain(view, playbook)
    return Preview(
        playbook,
        [f"{p} v{definitions[p].version} ({definitions[p].content_hash})" for p in chain],
        account,
        options,
        rows,
        _gates(definitions, chain, account),
        ending,
        time.monotonic() - began,
        view,
    )


async def advance_to_local(env, tz: ZoneInfo, hhmm: str) -> datetime:
    """Move the server clock to the next `hhmm` local time, so every preview reads the same."""
    now = await env.get_current_time()
    local = now.astimezone(tz)
    target = datetime.combine(local.date(), dtime(*map(int, hhmm.split(":"))), tzinfo=tz)
    if target <= local:
        target = datetime.combine(local.date() + timedelta(days=1), target.timetz())
    while (now := await env.get_current_time()) < target:
        await env.sleep(min(target - now, timedelta(days=1)))  # long single sleeps time out
    return target


async def _drive(env, handle: WorkflowHandle, definitions, account, options, start) -> tuple[RunView, str]:
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


async def answer_pending(handle, view: RunView, options: Options, now: datetime) -> bool:
    """Answer, as its assignee, every pending item open for 30 minutes that the options answer."""
    acted = False
    for p in view.pending:
        if p.opened_at + ANSWER_AFTER > now:
            continue
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


def _next_wake(view, definitions, account, start, now) -> datetime:
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


# --- what happened, in rows a person reads -----------------------------------------------------


def _rows(view: RunView, definitions, account: Account, start: datetime, outbox: Path, wid: str) -> list[Row]:
    tz, rows, open_rows, rungs = ZoneInfo(account.timezone), [], {}, {}
    owner = {}
    for pid, d in definitions.items():
        for s in d.steps:
            owner.setdefault(s.id, pid)
    for r in view.timeline:
        local = r.at.astimezone(tz)
        day, hhmm = (local.date() - start.astimezone(tz).date()).days, f"{local:%H:%M}"
        if r.outcome in ANSWERS and r.actor != "playbook" and r.step_id in open_rows:
            open_rows[r.step_id].outcome += f"; {r.outcome} by {_who(account, r.actor)} (day {day} {hhmm})"
            continue
        pid = owner.get(r.step_id, view.playbook)
        step = definitions[pid].step(r.step_id) if pid in definitions else None
        row = Row(day, hhmm, pid, r.step_id, CHANNEL.get(r.kind, r.kind), "", "", r.outcome)
        key = f"{wid}/{pid}/{r.step_id}"
        if r.outcome == "escalated":  # the Notifier's key for the n-th rung
            rungs[r.step_id] = rungs.get(r.step_id, 0) + 1
            key += f":escalate:{rungs[r.step_id]}"
        _fill(row, r, step, account, outbox, key)
        rows.append(row)
        if r.outcome in ("created", "requested"):
            open_rows[r.step_id] = row
    return rows


def _fill(row: Row, r, step, account: Account, outbox: Path, key: str) -> None:
    d, row.outcome = r.detail, r.outcome.replace("_", " ")
    if r.outcome == "sent" and r.kind == "email":
        contact = next((c for c in account.contacts if c.email == d.get("to")), None)
        row.to = f"{contact.name} <{contact.email}>" if contact else str(d.get("to"))
        row.what, row.body = d.get("subject", ""), _eml_text(outbox / "email" / outbox_file(key, ".eml"))
    elif r.outcome == "sent" and r.kind == "slack":
        row.to, row.body = _who(account, d.get("to", "")), d.get("text", "")
        row.what = row.body.splitlines()[0] if row.body else ""
    elif r.outcome in ("created", "requested"):
        row.to = _who(account, d.get("assignee", ""))
        row.what = step.title if step is not None and step.title else r.step_id
        row.outcome = "asked" if r.outcome == "requested" else "created"
        row.body = _read(
            outbox / "slack" / outbox_file(f"{key}:request", ".md")
            if r.kind == "approval"
            else outbox / "tasks" / outbox_file(key, ".md")
        )
    elif r.outcome == "escalated":
        row.channel, row.to, row.what = "Slack", _who(account, d.get("to", "")), f"escalation: {r.reason}"
        row.body = _read(outbox / "slack" / outbox_file(key, ".md"))
    elif r.outcome in ("handed_over", "started"):
        row.what = f"{'hands over to' if r.outcome == 'handed_over' else 'starts'} {d.get('playbook')}"
    else:  # not_applicable, skipped, failed, overdue, expired, reached, ...
        row.what = (step.title or getattr(step, "template", "")) if step is not None else ""
        row.outcome += f": {r.reason}" if r.reason else ""
    if not row.to and step is not None:  # a step that did not run: who it would have reached
        ref = getattr(step, "to", None) or getattr(step, "assignee", None) or getattr(step, "approver", "")
        contact = account.contact(ref) if ref else None
        row.to = contact.name if contact else _who(account, ref)


def _who(account: Account, ref: str) -> str:
    if ref == "deadline":
        return "the deadline"
    for role in ("csm", "manager", "executive"):
        p = account.person(role)
        if p and ref in (p.id, p.slack_user, role, f"@{p.id}"):
            return p.name
    return ref


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip() if path.is_file() else ""


def _eml_text(path: Path) -> str:
    if not path.is_file():
        return ""
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content().strip() if part else ""


def _gates(definitions, chain: list[str], account: Account) -> list[str]:
    """Each approval gate of the playbooks the run went through, and what happens if nobody answers."""
    out = []
    for pid in chain:
        for s in definitions[pid].steps:
            if not isinstance(s, ApprovalStep):
                continue
            dl, h = s.deadline, s.deadline.hours
            who = _who(account, s.approver)
            if dl.then == "escalate":
                rungs = [
                    f"after {h * (n + 1):g} h {_who(account, role)} ({role}) is told"
                    for n, role in enumerate(dl.escalate_to)
                ]
                then = (
                    "; ".join(rungs)
                    + "; then it stays pending, marked overdue, and the run waits at this gate"
                )
            elif dl.then == "skip":
                then = f"after {h:g} h it is skipped, and '{s.gates}' does not happen"
            else:
                then = f"after {h:g} h it goes ahead as if approved"
            out.append(
                f"'{s.id}' ({pid}, day {s.day}): {who} ({s.approver}) approves '{s.gates}'. "
                f"If nobody answers: {then}."
            )
    return out


# --- output: Markdown, HTML, and the diff of two versions ---------------------------------------

COLUMNS = ("Day", "Time", "Step", "Channel", "To", "Subject / what", "Outcome")


def _cells(r: Row) -> tuple[str, ...]:
    return (str(r.day), r.time, r.step, r.channel, r.to, r.what, r.outcome)


def _intro(p: Preview) -> list[str]:
    o = p.options
    people = {
        "approve": "approved by the approver",
        "skip": "skipped by the approver",
        "none": "never answered, to show what the deadlines do",
    }[o.approvals]
    fact = f" (a task that records a fact answers {'yes' if o.answer else 'no'})"
    tasks = "completed by the assignee" + fact if o.tasks == "complete" else "never completed"
    return [
        f"Preview of {' → '.join(p.versions)} for {p.account.name} (`{p.account.id}`).",
        f"Day 0 starts at {o.start_at}; times are local ({p.account.timezone}). Approvals are {people}; "
        f"tasks are {tasks}; answers come {ANSWER_AFTER.seconds // 60} minutes after the request.",
        p.ending,
    ]


def _md(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def to_markdown(p: Preview) -> str:
    lines = [*_intro(p)[:2], "", "| " + " | ".join(COLUMNS) + " |", "|---:|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(_md(c) for c in _cells(r)) + " |" for r in p.rows]
    lines += ["", _intro(p)[2], "", "**Approval gates**", ""] + ([f"- {g}" for g in p.gates] or ["- none"])
    if p.options.body:
        lines += ["", "**Messages**"]
        for r in (r for r in p.rows if r.body):
            lines += [
                "",
                f"Day {r.day} {r.time} · {r.step} · {r.channel} to {r.to}: {_md(r.what)}",
                "",
                "~~~text",
                r.body,
                "~~~",
            ]
    return "\n".join(lines) + "\n"


def to_html(p: Preview) -> str:
    e, rows = html.escape, []
    for r in p.rows:
        rows.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in _cells(r)) + "</tr>")
        if p.options.body and r.body:
            rows.append(
                f"<tr><td colspan='7'><details><summary>message</summary><pre>{e(r.body)}</pre>"
                "</details></td></tr>"
            )
    head = "".join(f"<th>{e(c)}</th>" for c in COLUMNS)
    intro = "".join(f"<p>{e(t.replace('`', ''))}</p>" for t in _intro(p)[:2])
    gates = "".join(f"<li>{e(g)}</li>" for g in p.gates) or "<li>none</li>"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Preview: {e(p.playbook)}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:4px 8px;text-align:left;vertical-align:top}pre{white-space:pre-wrap}</style></head><body>"
        f"<h1>Preview: {e(p.playbook)}</h1>{intro}<table><tr>{head}</tr>{''.join(rows)}</table>"
        f"<p>{e(_intro(p)[2])}</p><h2>Approval gates</h2><ul>{gates}</ul></body></html>\n"
    )


@dataclass
class Change:
    kind: Literal["added", "removed", "changed"]
    old: Optional[Row]
    new: Optional[Row]


def diff(old: Preview, new: Preview) -> list[Change]:
    """Rows matched by (playbook, step, channel, n-th occurrence); changed when what a person
    would see differs (day, time, recipient, subject, outcome)."""

    def keyed(rows):
        seen, out = {}, {}
        for r in rows:
            k = (r.playbook, r.step, r.channel)
            seen[k] = seen.get(k, 0) + 1
            out[(*k, seen[k])] = r
        return out

    a, b = keyed(old.rows), keyed(new.rows)
    changes = [Change("removed", r, None) for k, r in a.items() if k not in b]
    changes += [
        Change("added", None, r) if k not in a else Change("changed", a[k], r)
        for k, r in b.items()
        if k not in a or _cells(a[k]) != _cells(r)
    ]
    return sorted(changes, key=lambda c: ((c.new or c.old).day, (c.new or c.old).time))


def diff_markdown(old: Preview, new: Preview, changes: list[Change]) -> str:
    lines = [
        f"Timeline changes from {' → '.join(old.versions)} to {' → '.join(new.versions)} "
        f"for {new.account.name} (`{new.account.id}`):",
        "",
    ]
    if not changes:
        return "\n".join(lines + ["No change in the timeline."]) + "\n"
    lines += ["| Change | " + " | ".join(COLUMNS) + " |", "|---|---:|---|---|---|---|---|---|"]
    for c in changes:
        cells = (
            [o if o == n else f"{o} → {n}" for o, n in zip(_cells(c.old), _cells(c.new), strict=True)]
            if c.kind == "changed"
            else _cells(c.new or c.old)
        )
        lines.append(f"| {c.kind} | " + " | ".join(_md(x) for x in cells) + " |")
    if old.ending != new.ending:
        lines += ["", f"Ending: {old.ending} → {new.ending}"]
    counts = {k: sum(c.kind == k for c in changes) for k in ("added", "removed", "changed")}
    return "\n".join(lines + ["", ", ".join(f"{n} {k}" for k, n in counts.items() if n) + "."]) + "\n"
