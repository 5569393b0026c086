"""What a template sees. One definition for the workflow that builds the `run` it passes, the
activities that render, and the linter that checks templates against a sample before they ship.
Pure: dictionaries built from the messages.
"""

from __future__ import annotations

from typing import Any, Optional, TypedDict

from csrunner.domain.messages import Account, Contact, Pending, Person


class RunContext(TypedDict):
    """`run` in a template: where the playbook run stands when the message is made."""

    playbook: str
    playbook_name: str
    version: int
    step: Optional[str]
    day: int
    started_on: str  # ISO date
    local_date: str  # ISO date
    workflow_id: str


RUN_KEYS: tuple[str, ...] = tuple(RunContext.__annotations__)
#: What a Slack card about a pending item shows (approval requests, escalations, reassignments).
CARD_FIELDS = frozenset({"step_id", "title", "assignee", "due_at", "preview"})


def card(p: Pending) -> dict[str, Any]:
    return p.model_dump(mode="json", include=set(CARD_FIELDS))


def person_context(p: Person | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {**p.model_dump(mode="json"), "first_name": p.first_name}


def template_context(
    account: Account,
    contact: Contact | None = None,
    run: RunContext | dict[str, Any] | None = None,
    facts: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The variables every template can use."""
    acc = account.model_dump(mode="json", exclude={"contacts", "csm", "manager", "executive", "metrics"})
    ctx: dict[str, Any] = {
        "account": acc,
        "csm": person_context(account.csm),
        "manager": person_context(account.manager),
        "executive": person_context(account.executive),
        "metrics": dict(account.metrics),
        "run": dict(run or {}),
        "facts": dict(facts or {}),
    }
    if contact is not None:
        ctx["contact"] = {**contact.model_dump(mode="json"), "first_name": contact.first_name}
    ctx.update(extra)
    return ctx
