"""Accounts, people and the messages workflows exchange. Pure pydantic (used inside workflows)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from csrunner.domain.definitions import PartName, PlaybookDefinition
from csrunner.domain.values import ITEMS, AccountId, HttpsUrl, Short, Text

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def _email(value: str) -> str:
    # A plain check, not email_validator: accounts travel in every activity payload and
    # re-validating them with a full RFC parser was a measurable share of the worker's CPU.
    if not _EMAIL.match(value) or ".." in value:
        raise ValueError(f"value is not a valid email address: {value!r}")
    return value


Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# What comes from outside (account files, webhooks, the team file, people acting) has a length
# limit on every string and list; the run state workflows build from it stays within them.
class Person(Model):
    id: Short = Field(min_length=1)
    name: Short
    email: Email
    slack_user: Short = ""
    phone: Short = ""
    title: Short = ""
    timezone: Short = "UTC"  # where they read times; checked against the zone database in config

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name else ""


class Contact(Model):
    name: Short
    email: Email
    role: Short = Field(description="champion, executive_sponsor, admin, ...")
    locale: Literal["en", "es"] = "en"

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name else ""


class Account(Model):
    id: AccountId
    name: Short = Field(min_length=1)
    timezone: Short = "UTC"  # checked against the zone database where accounts come in (config)
    locale: Literal["en", "es"] = "en"
    plan: Short = ""
    industry: Short = ""
    survey_url: HttpsUrl = ""
    deal_id: Short = ""
    contacts: list[Contact] = Field(min_length=1, max_length=ITEMS)
    csm: Person
    manager: Optional[Person] = None
    executive: Optional[Person] = None
    metrics: dict[str, Any] = Field(default_factory=dict, max_length=ITEMS)
    #: account facts (playbooks/scoring/facts.yaml), checked where they enter; templates: account.facts.<name>
    facts: dict[str, Any] = Field(default_factory=dict, max_length=ITEMS)

    def contact(self, role: str) -> Optional[Contact]:
        return next((c for c in self.contacts if c.role == role), None)

    def person(self, role: str) -> Optional[Person]:
        return {"csm": self.csm, "manager": self.manager, "executive": self.executive}.get(role)


# --- run state -------------------------------------------------------------------------------

ActionName = Literal["approve", "skip", "reject", "snooze", "complete", "reassign", "resend"]
#: An edited part of an email: plain text (escaped in HTML), at most this long.
EDIT_MAX = 2000


def _plain(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise ValueError("an edit is plain text: no control characters")
    return text


EditText = Annotated[str, Field(max_length=EDIT_MAX), AfterValidator(_plain)]


class StepRecord(Model):
    """One line of a run's timeline: what happened to a step, when, and by whom."""

    step_id: str
    kind: str
    outcome: str  # sent, created, approved, skipped, snoozed, completed, escalated, failed, ...
    at: datetime
    day: int
    actor: str = "playbook"
    reason: str = ""
    detail: dict[str, Any] = {}


class UnsureEmail(Model):
    """A customer email that may or may not have gone out: what the CSM checks and may resend."""

    key: str  # the original idempotency key; a resend goes out as `<key>#resend-<n>`
    step_id: str = ""  # the email step (set by the workflow)
    resends: int = 0  # how many resends went before this one
    to: str
    to_name: str = ""
    subject: str
    text: str
    html: str


class Pending(Model):
    """An approval or task waiting for a person."""

    step_id: str
    kind: Literal["approval", "task"]
    title: str
    assignee: str  # person id
    opened_at: datetime
    due_at: Optional[datetime] = None
    ladder: list[str] = []  # team roles told, one per `ladder_hours`, when it is overdue
    ladder_hours: float = 24
    rung: int = 0  # how far up the ladder it has climbed
    records: Optional[str] = None  # the fact a task's yes/no sets
    snoozed_until: Optional[datetime] = None
    checklist: list[str] = []
    preview: dict[str, str] = {}
    #: approvals of an email: the current text of each part the approver may edit
    editable: dict[str, str] = {}
    slack_ref: dict[str, str] = {}  # channel/ts of the Slack message to update
    #: a "check whether this email reached the customer" task: the message its Resend sends
    resend: Optional[UnsureEmail] = None


class Edit(Model):
    """Parts of an email an approver rewrote, and who."""

    actor: str
    parts: dict[str, str]


class RunState(Model):
    playbook: str
    version: int
    content_hash: str
    started_at: datetime
    schedule: dict[str, datetime] = {}
    day0: Optional[datetime] = None  # local midnight of the start date (calendar days count from it)
    cursor: int = 0
    facts: dict[str, Any] = {}
    skip_steps: list[str] = []
    edits: dict[str, Edit] = {}  # email step id → what its approver changed
    pending: dict[str, Pending] = {}
    timeline: list[StepRecord] = []
    chain: list[str] = []  # playbooks this run has been, oldest first (handover)
    chain_started_at: Optional[datetime] = None  # when the first of them started
    status: Literal["running", "lingering", "completed"] = "running"


class PlaybookInput(Model):
    account: Account
    playbook: str
    #: The definition snapshot (this playbook and every one it may hand over to).
    definitions: dict[str, PlaybookDefinition]
    state: Optional[RunState] = None  # set when continuing as new
    journey_id: str = ""
    search_attributes: bool = True
    #: RUN_VERSION when started by this release: the run publishes its dashboard row without
    #: asking the patch `dashboard-memo` (asking costs a new run a visibility write); 0: it asks.
    version: int = 0


#: See PlaybookInput.version.
RUN_VERSION = 1


class Action(Model):
    step_id: Short
    action: ActionName
    actor: Short = Field(min_length=1, description="person id of who acts")
    reason: Text = ""
    until: Optional[datetime] = None  # snooze
    value: Optional[bool] = None  # complete: the yes/no a task records
    assignee: Optional[Short] = None  # reassign: team role or person id
    #: approve: parts of the gated email rewritten, {part: plain text}
    edits: dict[PartName, EditText] = Field(default_factory=dict, max_length=10)

    @model_validator(mode="after")
    def _reject_is_skip(self) -> Action:
        """`reject` is a skip that must say why (the reason goes to the timeline)."""
        if self.action == "reject":
            if not self.reason.strip():
                raise ValueError("reject needs a reason (it is a skip that says why)")
            self.action = "skip"
        return self


class Migration(Model):
    """Move a running run to another version of its playbook (ops, deliberately)."""

    definitions: dict[str, PlaybookDefinition]  # the new snapshot (the playbook and its targets)
    actor: Short = Field(min_length=1)
    reason: Text = ""


class RunView(Model):
    """What the query returns: enough for the CLI, the inbox and tests."""

    workflow_id: str
    account_id: str
    account_name: str = ""
    csm_id: str = ""  # the account's CSM (the run's CsmId search attribute can lag its first request)
    playbook: str
    version: int
    status: str
    started_at: datetime
    current_step: Optional[str]
    day: int
    pending: list[Pending]
    timeline: list[StepRecord]
    facts: dict[str, Any]


# --- activity contracts ----------------------------------------------------------------------


class ScheduleRequest(Model):
    timezone: str
    start: datetime
    default_time: str
    steps: list[tuple[str, int, Optional[str]]]  # (step id, day, "HH:MM" or None)

    @classmethod
    def of(cls, defn: PlaybookDefinition, timezone: str, start: datetime) -> ScheduleRequest:
        """When each step of `defn` is due, for a run starting at `start` in `timezone`."""
        return cls(
            timezone=timezone,
            start=start,
            default_time=defn.default_time,
            steps=[(s.id, s.day, s.at) for s in defn.steps],
        )


class Schedule(Model):
    day0: datetime  # local midnight of the start date, in UTC: days count from here
    steps: dict[str, datetime]  # step id → when it is due


class EmailRequest(Model):
    key: str  # idempotency key: workflow id + step id
    account: Account
    contact: Contact
    template: str
    run: dict[str, Any] = {}
    facts: dict[str, Any] = {}
    edits: dict[str, str] = {}  # parts the approver rewrote


class RenderedEmail(Model):
    to: str
    subject: str
    text: str
    html: str
    parts: dict[str, str] = {}  # the editable parts' text as rendered (subject and part blocks)


class EmailResult(Model):
    """What history keeps of a send: not the body (it would bloat every run's history)."""

    to: str
    subject: str
    message_id: str
    channel: Literal["sendgrid", "outbox"]
    duplicate: bool = False  # the ledger had it: nothing was sent again


class ResendRequest(Model):
    """Send an unsure email once more, under its own key (the original's fate stays unknown)."""

    key: str
    email: UnsureEmail


class SlackButton(Model):
    text: str
    action_id: str
    value: str
    style: Optional[Literal["primary", "danger"]] = None


class SlackRequest(Model):
    key: str
    account: Account
    to: str  # Slack user or channel id, or '#channel'
    template: str
    context: dict[str, Any] = {}
    buttons: list[SlackButton] = []
    update: dict[str, str] = {}  # channel + ts: edit that message instead of posting


class SlackResult(Model):
    channel: str
    ts: str
    text: str
    duplicate: bool = False


class TaskRequest(Model):
    key: str
    account: Account
    assignee: Person
    title: str
    description: str = ""
    agenda: list[str] = []
    checklist: list[str] = []
    deliverables: list[str] = []
    due_at: Optional[datetime] = None
