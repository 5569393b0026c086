"""The playbook format: typed, validated data. Pure (imported by workflow code): no I/O here.

A playbook is a list of steps, each at a day offset (and optional local time of day in the
account's timezone). Kinds: email to a customer contact by role, Slack to a person or channel,
task for a person, wait, approval gate, and start of another playbook.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Optional, Self, Union, assert_never, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Internal people a step can address; the account (or team file) says who they are.
TEAM_ROLES = ("csm", "manager", "executive")
TeamRole = Literal["csm", "manager", "executive"]
StepId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
LocalTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
#: A part of an email a CSM may edit before approving: `subject`, or a block of the template.
PartName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(Strict):
    """Run the step only when a run fact has (or has not) a value, e.g. first value not reached.
    Written `{fact: x, equals: v}` or `{fact: x, not_equals: v}`; stored as op + value so it
    survives serialisation into the workflow unchanged."""

    fact: str
    op: Literal["equals", "not_equals"]
    value: Any = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and "op" not in data:
            ops = [k for k in ("equals", "not_equals") if k in data]
            if len(ops) != 1:
                raise ValueError("a condition needs exactly one of 'equals' or 'not_equals'")
            rest = {k: v for k, v in data.items() if k != ops[0]}
            return {**rest, "op": ops[0], "value": data[ops[0]]}
        return data

    def holds(self, facts: dict[str, Any]) -> bool:
        same = facts.get(self.fact) == self.value
        return same if self.op == "equals" else not same


class ApprovalDeadline(Strict):
    """What happens when nobody answers an approval in time."""

    hours: float = Field(gt=0)
    then: Literal["escalate", "skip", "proceed"]
    #: For `escalate`: who is told, one rung per `hours` (CSM → manager → executive).
    escalate_to: list[TeamRole] = []

    @model_validator(mode="after")
    def _ladder(self) -> ApprovalDeadline:
        if self.then == "escalate" and not self.escalate_to:
            raise ValueError("deadline 'then: escalate' needs 'escalate_to' (e.g. [manager, executive])")
        return self


class TaskDue(Strict):
    hours: float = Field(gt=0)
    #: Overdue tasks climb the same ladder as approvals; `none` only marks them overdue.
    escalate_to: list[TeamRole] = []


class StepBase(Strict):
    #: How a person reading a timeline (preview, docs) calls this kind of step.
    label: ClassVar[str]

    id: StepId
    day: int = Field(0, ge=0, le=3650)
    at: Optional[LocalTime] = None
    title: str = ""
    when: Optional[Condition] = None


class EmailStep(StepBase):
    label = "email"
    kind: Literal["email"]
    to: str = Field(description="customer contact role, e.g. champion")
    template: str
    #: Parts the approver may edit: `subject` or blocks of the template (checked by the lint).
    editable: list[PartName] = Field([], max_length=10)
    #: Editable parts that must not be empty when approved (e.g. the expansion opportunity).
    required: list[PartName] = Field([], max_length=10)

    @model_validator(mode="after")
    def _parts(self) -> EmailStep:
        extra = [p for p in self.required if p not in self.editable]
        if extra:
            raise ValueError(f"required parts {extra} are not in 'editable' {self.editable}")
        return self


class SlackStep(StepBase):
    label = "Slack"
    kind: Literal["slack"]
    to: str = Field(description="csm, manager, executive or a channel such as #cs-onboarding")
    template: str

    @field_validator("to")
    @classmethod
    def _target(cls, v: str) -> str:
        if v not in TEAM_ROLES and not v.startswith("#"):
            raise ValueError(f"must be one of {', '.join(TEAM_ROLES)} or a '#channel'")
        return v


class TaskStep(StepBase):
    label = "task"
    kind: Literal["task"]
    assignee: TeamRole = "csm"
    title: str
    description: str = ""
    agenda: list[str] = []
    checklist: list[str] = []
    deliverables: list[str] = []
    due: Optional[TaskDue] = None
    #: Completing the task records this fact (with the yes/no the person gave).
    records: Optional[str] = None
    #: Account metrics the task lists with their values (e.g. the signals that started the play).
    shows: list[str] = Field([], max_length=20)


class WaitStep(StepBase):
    """A milestone: the run just reaches its day/time (useful before a condition check)."""

    label = "milestone"
    kind: Literal["wait"]


class ApprovalStep(StepBase):
    label = "approval"
    kind: Literal["approval"]
    approver: TeamRole = "csm"
    #: The step this gate guards: previewed in the request, skipped when the gate is skipped.
    gates: StepId
    deadline: ApprovalDeadline


class StartPlaybookStep(StepBase):
    label = "handover"
    kind: Literal["start_playbook"]
    playbook: str
    #: handover: this run becomes the next playbook (facts and open tasks carried over);
    #: parallel: a separate run is started and this one goes on.
    mode: Literal["handover", "parallel"] = "handover"


#: Every kind of step. The interpreter, the preview, the catalog checks and the JSON Schema all
#: derive from this union; the interpreter's `match` on it is checked exhaustive by mypy.
AnyStep = Union[EmailStep, SlackStep, TaskStep, WaitStep, ApprovalStep, StartPlaybookStep]
Step = Annotated[AnyStep, Field(discriminator="kind")]
STEP_TYPES: tuple[type[StepBase], ...] = get_args(AnyStep)


def kind_of(cls: type[StepBase]) -> str:
    """The `kind` a step class is written with in YAML (its Literal)."""
    return get_args(cls.model_fields["kind"].annotation)[0]


STEP_KINDS: tuple[str, ...] = tuple(kind_of(c) for c in STEP_TYPES)
#: Kinds whose `template` names a file: email_templates/<locale>/<name>.j2 or .../slack/<name>.j2.
TEMPLATE_KINDS: tuple[str, ...] = tuple(kind_of(c) for c in STEP_TYPES if "template" in c.model_fields)
START_PLAYBOOK = kind_of(StartPlaybookStep)
DEFAULT_START_MODE: str = StartPlaybookStep.model_fields["mode"].default


def addressee(step: AnyStep) -> str:
    """Who a step reaches, as written (a contact role, team role or channel); "" for none."""
    match step:
        case EmailStep() | SlackStep():
            return step.to
        case TaskStep():
            return step.assignee
        case ApprovalStep():
            return step.approver
        case WaitStep() | StartPlaybookStep():
            return ""
        case _:
            assert_never(step)


def subject(step: AnyStep) -> str:
    """What a step is about, for a person: its title, else the template it sends."""
    match step:
        case EmailStep() | SlackStep():
            return step.title or step.template
        case TaskStep() | WaitStep() | ApprovalStep() | StartPlaybookStep():
            return step.title
        case _:
            assert_never(step)


#: Step fields added after playbooks were published (left out of the content hash while empty).
LATER_FIELDS = ("editable", "required", "shows")


class PlaybookDefinition(Strict):
    id: StepId
    name: str
    version: int = Field(1, ge=1, description="human version number; the content hash is exact")
    description: str = ""
    #: Local time for steps on day > 0 that do not give `at`.
    default_time: LocalTime = "09:00"
    #: How long a run stays open after its last step for tasks still pending.
    linger_days: int = Field(7, ge=0)
    holdout_percent: float = Field(
        0,
        ge=0,
        le=50,
        description="Share of accounts (chosen by a stable hash of account id + playbook id) that get "
        "this play's tasks and Slack but not its customer emails: the control group of `csr report`.",
    )
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> PlaybookDefinition:
        seen: dict[str, int] = {}
        for i, step in enumerate(self.steps):
            if step.id in seen:
                raise ValueError(f"duplicate step id {step.id!r} (steps {seen[step.id]} and {i})")
            seen[step.id] = i
        for step in self.steps:  # a part the CSM must write needs a CSM to write it
            if isinstance(step, EmailStep) and (step.editable or step.required):
                gate = next(
                    (a for a in self.steps if isinstance(a, ApprovalStep) and a.gates == step.id), None
                )
                if gate is None:
                    raise ValueError(f"step {step.id!r} has editable parts but no approval gates it")
                if step.required and gate.deadline.then == "proceed":
                    raise ValueError(
                        f"approval {gate.id!r} may not 'proceed' on its deadline: "
                        f"{step.id!r} needs {step.required} written by a person"
                    )
        return self

    def step(self, step_id: str) -> AnyStep | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def index(self, step_id: str) -> int:
        return next(i for i, s in enumerate(self.steps) if s.id == step_id)

    # Once per value (frozen): runs publish it with every change, journeys at every play start.
    @functools.cached_property
    def content_hash(self) -> str:
        data = self.model_dump(mode="json")
        if not self.holdout_percent:  # playbooks without a holdout keep the hash they always had
            del data["holdout_percent"]
        for step in data["steps"]:  # fields added later count only when set: old hashes stay valid
            for k in LATER_FIELDS:
                if step.get(k) == []:
                    del step[k]
        raw = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()[:12]

    def model_copy(self, *, update: Optional[Mapping[str, Any]] = None, deep: bool = False) -> Self:
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("content_hash", None)  # a copy with changes has a hash of its own
        return copy

    def references(self) -> list[tuple[int, str, str]]:
        """(step index, field, target) for everything a step points at, for cross-checks."""
        refs: list[tuple[int, str, str]] = []
        for i, s in enumerate(self.steps):
            if isinstance(s, (EmailStep, SlackStep)):
                refs.append((i, "template", s.template))
            if isinstance(s, StartPlaybookStep):
                refs.append((i, "playbook", s.playbook))
        return refs
