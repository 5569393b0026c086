"""Request and response bodies of the service (they are what /docs shows)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictFloat, StrictInt, StrictStr

from csrunner.domain.definitions import PartName
from csrunner.domain.messages import Contact, EditText
from csrunner.domain.values import ACCOUNT_ID_PATTERN as ACCOUNT_ID
from csrunner.domain.values import ITEMS, HttpsUrl, NpsScore, Short, Text, TimeZoneName


class In(BaseModel):
    """What senders post: unknown fields refused. Numbers and yes/no are strict (`true` is not a
    number, `"50"` is not 50); strings are never made from numbers anyway."""

    model_config = ConfigDict(extra="forbid")


PersonId = Annotated[str, Field(min_length=1, max_length=100, description="a person id from the team file")]
#: Raw metric values: numbers, yes/no, or short text (the scoring model says which it reads).
MetricValue = Union[StrictInt, StrictFloat, bool, Annotated[StrictStr, Field(max_length=200)], None]


# --- deals -----------------------------------------------------------------------------------
class DealAccount(In):
    id: str = Field(
        pattern=ACCOUNT_ID, max_length=100, description="your stable account id, e.g. the CRM company id"
    )
    name: Short = Field(min_length=1)
    timezone: TimeZoneName = Field("UTC", description="IANA name, e.g. Europe/Madrid", max_length=64)
    locale: Literal["en", "es"] = "en"
    plan: Short = ""
    industry: Short = ""
    survey_url: HttpsUrl = Field("", description="https only")
    contacts: list[Contact] = Field(
        min_length=1, max_length=ITEMS, description="at least one; the champion gets the welcome"
    )
    csm: PersonId = Field(description="a person id from the team file (people come from it only)")
    manager: Optional[PersonId] = Field(None, description="default: the CSM's manager in the team file")
    executive: Optional[PersonId] = Field(None, description="default: the team file's executive")


class DealClosedIn(In):
    deal_id: str = Field(
        min_length=1, max_length=200, description="the CRM's deal id: makes the call idempotent"
    )
    closed_at: Optional[datetime] = Field(None, description="ISO-8601; a time without offset is UTC")
    account: DealAccount
    facts: Optional[dict[str, Any]] = Field(
        None,
        description="account facts declared in playbooks/scoring/facts.yaml (e.g. tier, contract_end); "
        "templates read them as account.facts.<name>",
    )


class DealStarted(BaseModel):
    deal_id: str
    account_id: str
    workflow_id: str
    started: bool = Field(description="false when this deal had already started the journey: nothing changed")
    notes: list[str] = Field([], description="what was assumed, e.g. a default for an unknown time zone")


class DealAccepted(BaseModel):
    """A HubSpot deal durably taken in: its intake reads it from HubSpot and starts the journey."""

    deal_id: str
    portal_id: Optional[int] = None
    workflow_id: str = Field(description="the deal's intake workflow, hubspot-deal:{portalId}:{dealId}")
    started: bool = Field(description="false when this deal had already been taken in: nothing changed")


class HubSpotResult(BaseModel):
    received: int
    started: list[DealAccepted] = Field([], description="deals taken in by this delivery")
    duplicates: list[DealAccepted] = Field([], description="deals an earlier delivery took in")
    ignored: int = Field(0, description="events that are not a deal reaching a closed-won stage")


# --- feeds -----------------------------------------------------------------------------------
class ScoreIn(In):
    account_id: str = Field(pattern=ACCOUNT_ID)
    score: Optional[float] = Field(
        None, strict=True, ge=0, le=100, description="a ready 0-100 score (or give metrics)"
    )
    metrics: Optional[dict[Annotated[str, Field(max_length=100)], MetricValue]] = Field(
        None, max_length=ITEMS, description="raw metrics the scoring model turns into a score"
    )
    facts: Optional[dict[str, Any]] = Field(
        None,
        description="account facts declared in playbooks/scoring/facts.yaml (e.g. revenue_generated), "
        "beside or instead of a score / metrics; templates read them as account.facts.<name>",
    )
    at: Optional[datetime] = Field(None, description="when measured; a time without offset is UTC")
    source: str = Field("", max_length=200)


class NpsIn(In):
    account_id: str = Field(pattern=ACCOUNT_ID)
    score: NpsScore
    comment: str = Field("", max_length=2000)
    at: Optional[datetime] = Field(None, description="when answered; a time without offset is UTC")


class SignalIn(In):
    account_id: str = Field(pattern=ACCOUNT_ID)
    signal: str = Field(
        min_length=1,
        max_length=200,
        description="seed 004: high_usage, positive_roi, team_growth, new_initiative or budget_approved",
    )
    detail: str = Field("", max_length=2000)


class Accepted(BaseModel):
    account_id: str
    workflow_id: str


class ItemResult(BaseModel):
    index: int
    account_id: Optional[str] = None
    status: Literal["accepted", "error"]
    workflow_id: Optional[str] = None
    error: Optional[str] = None


class BatchResult(BaseModel):
    accepted: int
    errors: int
    results: list[ItemResult]


# --- the action API --------------------------------------------------------------------------
class Me(BaseModel):
    id: str
    name: str
    email: EmailStr
    role: str
    sees: Union[Literal["all"], list[str]] = Field(description="CSM ids whose accounts this person sees")


class ActIn(In):
    workflow_id: str = Field(min_length=1, max_length=500)
    step_id: str = Field(min_length=1, max_length=200)
    reason: Text = ""


class ApproveIn(ActIn):
    edits: dict[PartName, EditText] = Field(
        default_factory=dict,
        max_length=10,
        description="parts of the gated email rewritten before it goes, {part: plain text}; "
        "the parts are the email step's `editable` (see the pending item's `editable`)",
    )


class RejectIn(ActIn):
    reason: Text = Field(min_length=1, description="why; rejecting is skipping with a reason")


class SnoozeIn(ActIn):
    until: datetime = Field(description="ISO time in the future; a time without offset is UTC")


class CompleteIn(ActIn):
    value: Optional[bool] = Field(
        None, strict=True, description="the yes/no a task records (required when it records a fact)"
    )


class ReassignIn(ActIn):
    assignee: str = Field(
        min_length=1, max_length=100, description="person id or team role (csm, manager, executive)"
    )


class PendingItem(BaseModel):
    workflow_id: str
    account_id: str
    account_name: str = ""
    csm_id: str
    playbook: str
    step_id: str
    kind: Literal["approval", "task"]
    title: str
    assignee: str
    assignee_name: str
    opened_at: datetime
    due_at: Optional[datetime] = None
    snoozed_until: Optional[datetime] = None
    overdue: bool
    records: Optional[str] = Field(None, description="the fact completing this task records (yes/no)")
    checklist: list[str] = []
    preview: dict[str, str] = {}
    editable: dict[str, str] = Field(
        {}, description="approvals: the parts the approver may edit, current text"
    )
    resend: bool = Field(
        False,
        description="a 'check whether this email reached the customer' task: `preview` is the message "
        "(to, subject, text) and POST /actions/resend sends it once more",
    )


class ActResult(BaseModel):
    workflow_id: str
    step_id: str
    action: str
    actor: str
    pending: list[str] = Field(description="step ids still pending on this run")


class TimelineEntry(BaseModel):
    at: datetime
    workflow_id: str
    playbook: str
    step_id: str
    kind: str
    outcome: str
    actor: str
    actor_name: str
    reason: str = ""
    detail: dict[str, Any] = {}


class Timeline(BaseModel):
    account_id: str
    account_name: str = ""
    runs: list[str]
    entries: list[TimelineEntry]
    facts: dict[str, Any] = Field(
        default_factory=dict,
        description="the account's facts as its journey keeps them (playbooks/scoring/facts.yaml); "
        "empty for an account without a journey",
    )


class Health(BaseModel):
    ok: bool
    temporal: str
