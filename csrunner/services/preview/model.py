"""What a preview is: the options the stand-in for the people follows, and the rows of the
timeline a person reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal, Optional

from csrunner.domain.messages import Account, RunView

#: The stand-in for the people answers this long after an approval or task opens.
ANSWER_AFTER = timedelta(minutes=30)


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
