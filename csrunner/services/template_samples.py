"""Sample contexts for checking templates before they ship: every optional field filled, built
by the same functions the workflow and the activities use (csrunner/domain/context.py), so the
linter sees exactly the variables a real message gets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from csrunner.domain.context import RunContext, card, template_context
from csrunner.domain.definitions import PlaybookDefinition
from csrunner.domain.facts import FactsSchema
from csrunner.domain.messages import Account, Action, Contact, Pending, Person

#: Slack templates the workflow itself posts (workflows/common.py Notifier), with what it passes.
SYSTEM_SLACK = {
    "approval_request": ("approval", "reminder"),
    "approval_decided": ("approval", "decision"),
    "escalation": ("item", "escalation"),
    "reassigned": ("item",),
}


def sample_account(facts: FactsSchema | None = None) -> Account:
    """Every optional field filled (a sample of every declared fact), so only real typos are reported."""

    def person(pid: str, name: str) -> Person:
        return Person(
            id=pid,
            name=name,
            email=f"{pid}@cs.example.com",
            slack_user=f"U{pid.upper()}",
            phone="+34 600 000 000",
            title="Title",
        )

    return Account(
        id="sample",
        name="Sample Co",
        timezone="Europe/Madrid",
        plan="Pro",
        industry="Retail",
        survey_url="https://survey.example.com",
        deal_id="1",
        contacts=[Contact(name="Sam Sample", email="sam@sample.example", role="champion")],
        csm=person("csm", "Cara Csm"),
        manager=person("manager", "Max Manager"),
        executive=person("executive", "Eve Exec"),
        metrics={},
        facts=facts.samples() if facts else {},
    )


def sample_context(
    kind: str,
    extra: tuple[str, ...] = (),
    step_id: str = "step",
    playbook: PlaybookDefinition | None = None,
    facts: FactsSchema | None = None,
) -> dict[str, Any]:
    acc = sample_account(facts)
    run = RunContext(
        playbook=playbook.id if playbook else "sample-playbook",
        playbook_name=playbook.name if playbook else "Sample playbook",
        version=playbook.version if playbook else 1,
        step=step_id,
        day=1,
        started_on="2025-01-01",
        local_date="2025-01-02",
        workflow_id="sample-workflow_id",
    )
    item = card(
        Pending(
            step_id=step_id,
            kind="approval",
            title="Approve it",
            assignee="csm",
            opened_at=datetime(2025, 1, 1, 8, tzinfo=UTC),
            due_at=datetime(2025, 1, 1, 9, tzinfo=UTC),
            preview={"to": "sam@sample.example", "subject": "Subject", "text": "Body", "title": "Title"},
        )
    )
    more = {
        "approval": item,
        "item": item,
        "reminder": False,
        "decision": Action(step_id=step_id, action="approve", actor="csm").model_dump(mode="json"),
        "escalation": {"to": "Max Manager", "role": "manager", "reason": "unanswered for 24 h"},
    }
    contact = acc.contacts[0] if kind == "email" else None
    return template_context(acc, contact, run, {}, **{k: more[k] for k in extra})
