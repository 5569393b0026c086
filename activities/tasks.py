"""Tasks for people. The run keeps the task (pending until completed); this writes the card a
person reads in the outbox, once per idempotency key."""

from __future__ import annotations

from temporalio import activity

from activities import metrics
from activities.outbox import write_markdown
from activities.store import Ledger
from csrunner.config.settings import Settings
from csrunner.domain.messages import TaskRequest
from csrunner.domain.timefmt import human_time


def task_markdown(req: TaskRequest) -> str:
    lines = [
        f"# {req.title}",
        "",
        f"- Account: {req.account.name} ({req.account.id})",
        f"- Assignee: {req.assignee.name} <{req.assignee.email}>",
    ]
    if req.due_at:
        lines.append(f"- Due: {human_time(req.due_at, req.assignee.timezone)}")  # in the assignee's zone
    if req.description:
        lines += ["", req.description]
    for heading, items in (
        ("Agenda", req.agenda),
        ("Checklist", req.checklist),
        ("Deliverables", req.deliverables),
    ):
        if items:
            lines += ["", f"## {heading}", *[f"- [ ] {i}" for i in items]]
    return "\n".join(lines) + "\n"


class TaskActivities:
    def __init__(self, settings: Settings, ledger: Ledger):
        self.settings, self.ledger = settings, ledger

    @activity.defn
    def create_task(self, req: TaskRequest) -> str:
        if not self.ledger.get(req.key):
            path = write_markdown(self.settings.outbox_dir, "tasks", req.key, task_markdown(req))
            self.ledger.put(req.key, "task", {"path": str(path)})
            metrics.message("task", "sent", req)
        else:
            metrics.message("task", "duplicate", req)
        return req.key
