"""A HubSpot deal on its way to the account's journey: what the webhook hands to the intake
workflow, what the CRM read gives back, and how the intake ended."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Optional

from pydantic import Field

from csrunner.domain.messages import Account, Model


def intake_id(portal_id: int | str | None, deal_id: str) -> str:
    """One intake per HubSpot deal: the webhook's start is idempotent on this id."""
    return f"hubspot-deal:{portal_id if portal_id is not None else 0}:{deal_id}"


class DealIntakeInput(Model):
    deal_id: str = Field(min_length=1, max_length=100)
    portal_id: Optional[int] = None


class DealAccount(Model):
    """The deal read from HubSpot and mapped to our account; `notes` say what was assumed."""

    account: Account
    closed_at: Optional[datetime] = None
    notes: list[str] = []


class JourneyStart(Model):
    """The signal-with-start of `deal_closed`; `token` is stable across retries of one intake."""

    account: Account
    deal_id: str = Field(min_length=1, max_length=200)
    closed_at: Optional[datetime] = None
    token: str = ""


class JourneyStarted(Model):
    workflow_id: str
    #: This deal started the account's lifecycle (False: the journey already had the deal).
    started: bool


class IntakeProblem(Model):
    """A deal that cannot become a journey: a task card for a person, keyed by the intake."""

    key: str
    deal_id: str
    problem: str = Field(max_length=2000)


class DealIntakeResult(Model):
    deal_id: str
    outcome: Literal["started", "duplicate", "needs_attention"]
    account_id: str = ""
    journey_id: str = ""
    notes: list[str] = []
    problem: str = ""
    task: str = ""  # the task card's key, when a person must act
