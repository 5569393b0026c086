"""What happened in a previewed run, in rows a person reads: the run's timeline joined with the
messages the worker wrote to its outbox (rendered subjects and bodies), and the approval gates."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from activities.outbox import file_name as outbox_file
from csrunner.domain.definitions import (
    STEP_TYPES,
    AnyStep,
    ApprovalStep,
    PlaybookDefinition,
    addressee,
    kind_of,
    subject,
)
from csrunner.domain.messages import Account, RunView, StepRecord
from csrunner.services.preview.model import Row

#: How each kind of timeline entry reads in the Channel column (the step kinds say it themselves).
CHANNEL = {**{kind_of(c): c.label for c in STEP_TYPES}, "run": "run"}
ANSWERS = {"approved", "skipped", "completed", "snoozed", "reassigned"}  # shown on the row they answer


def rows(
    view: RunView,
    definitions: dict[str, PlaybookDefinition],
    account: Account,
    start: datetime,
    outbox: Path,
    wid: str,
) -> list[Row]:
    """One row per timeline entry; an answer (approved, completed, ...) joins the row it answers."""
    tz, out = ZoneInfo(account.timezone), []
    open_rows: dict[str, Row] = {}
    rungs: dict[str, int] = {}
    owner: dict[str, str] = {}  # step id → the playbook it belongs to
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
        out.append(row)
        if r.outcome in ("created", "requested"):
            open_rows[r.step_id] = row
    return out


def _fill(row: Row, r: StepRecord, step: AnyStep | None, account: Account, outbox: Path, key: str) -> None:
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
        row.what = subject(step) if step is not None else ""
        row.outcome += f": {r.reason}" if r.reason else ""
    if not row.to and step is not None:  # a step that did not run: who it would have reached
        ref = addressee(step)
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


def gates(definitions: dict[str, PlaybookDefinition], chain: list[str], account: Account) -> list[str]:
    """Each approval gate of the playbooks the run went through, and what happens if nobody answers."""
    out: list[str] = []
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
