"""What the account journey receives (signals), keeps (state) and shows (view).

Pure pydantic: imported by workflow code, by the client API (csrunner.services.journeys) and the service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Field

from csrunner.domain.definitions import PlaybookDefinition
from csrunner.domain.messages import Account, Model
from csrunner.domain.scoring import ScoringModel
from csrunner.domain.triggers import FiredTrigger, Observation
from csrunner.domain.values import AccountId, NpsScore

Slot = Literal["onboarding", "nps", "retention", "recovery", "expansion"]


# --- signals ---------------------------------------------------------------------------------


class DealClosed(Model):
    kind: Literal["deal_closed"] = "deal_closed"
    account: Account
    deal_id: str = Field(min_length=1, max_length=200)
    closed_at: Optional[datetime] = None
    #: Unique per call: the journey remembers which call recorded a deal first (started_new).
    token: str = ""


class ScoreUpdate(Model):
    """A ready score or raw metrics (scored by the journey's model), never both; and/or account
    facts (checked against the facts schema where they enter). Facts alone are not scored."""

    kind: Literal["score"] = "score"
    score: Optional[float] = None
    metrics: dict[str, Any] = {}
    facts: Optional[dict[str, Any]] = None  # None, not {}: an import holds thousands of updates
    at: Optional[datetime] = None
    source: str = Field("", max_length=200)

    def facts_only(self) -> bool:
        """Only account facts: nothing to score."""
        return self.score is None and not self.metrics and bool(self.facts)


class NpsAnswer(Model):
    kind: Literal["nps"] = "nps"
    score: NpsScore
    comment: str = Field("", max_length=2000)
    at: Optional[datetime] = None


class ExpansionSignal(Model):
    kind: Literal["expansion"] = "expansion"
    signal: str = Field(min_length=1, max_length=200)
    detail: str = Field("", max_length=2000)
    at: Optional[datetime] = None


class ScoreBatch(Model):
    """One account's updates from one batch (a feed call, an import chunk): one signal or one
    update-with-start instead of one per row. `batch_id` makes a resend a no-op."""

    batch_id: str = Field(min_length=1, max_length=100)
    updates: list[ScoreUpdate] = Field(min_length=1, max_length=10_000)


class Applied(Model):
    """What a batch did to its journey, once the journey handled it (the `apply` update's answer)."""

    account_id: str
    batch_id: str
    duplicate: bool = False  # this batch id was already applied: nothing done again
    waiting_for_deal: bool = False  # kept until the deal closes
    band_before: str = ""
    band: str = ""
    score: Optional[float] = None
    updates: int = 0  # applied by this batch
    rejected: int = 0
    alerts: int = 0  # trigger alerts sent
    plays_started: list[str] = []  # workflow ids


Message = Annotated[Union[DealClosed, ScoreUpdate, NpsAnswer, ExpansionSignal], Field(discriminator="kind")]


# --- state -----------------------------------------------------------------------------------


class PlayRun(Model):
    """A playbook run the journey started (a PlaybookWorkflow child)."""

    slot: Slot
    playbook: str
    workflow_id: str
    n: int
    started_at: datetime
    #: When its schedule is over (last step day + 1); past this it no longer counts as active.
    ends_at: datetime
    status: Literal["running", "completed", "preempted", "failed"] = "running"
    ended_at: Optional[datetime] = None
    reason: str = ""
    #: In the play's holdout as its definition said when it started (None: started by a release
    #: that did not record it; the report then uses today's holdout_percent).
    held_out: Optional[bool] = None


class JourneyEvent(Model):
    """One line of the journey's compact timeline."""

    at: datetime
    day: Optional[int]  # lifecycle day (None before the deal closed)
    kind: str  # deal_closed, score, alert, nps, expansion_signal, play_started, play_preempted, ...
    text: str
    detail: dict[str, Any] = {}


class NpsRecord(Model):
    at: datetime
    day: Optional[int]
    score: int
    category: Literal["promoter", "passive", "detractor"]
    comment: str = ""


class DealRecord(Model):
    deal_id: str
    token: str
    closed_at: datetime
    #: This deal started the account's lifecycle (onboarding); later deals are only recorded.
    started_lifecycle: bool


class JourneyState(Model):
    account_id: str
    account: Optional[Account] = None
    closed_at: Optional[datetime] = None
    onboarding_until: Optional[datetime] = None
    #: The NPS survey while the journey holds it (patch `nps-scheduled-by-journey`): started as a
    #: play at `nps_due_at` (its first step's due time), its days counted from `nps_clock` (when
    #: the deal was handled), with the definitions the deal decided. All cleared once it starts.
    nps_due_at: Optional[datetime] = None
    nps_clock: Optional[datetime] = None
    nps_reason: str = ""
    nps_definitions: dict[str, PlaybookDefinition] = {}
    deals: dict[str, DealRecord] = {}
    # health
    score: Optional[float] = None
    band: str = ""
    band_rank: Optional[int] = None
    score_note: str = ""
    metrics: dict[str, Any] = {}
    #: account facts as last told (deal webhook, feeds, CSV, `csr facts`), merged name by name
    facts: dict[str, Any] = {}
    history: list[Observation] = []
    last_triggers: list[FiredTrigger] = []
    last_update_at: Optional[datetime] = None
    # NPS and asks
    nps: list[NpsRecord] = []
    referral_asked_at: Optional[datetime] = None
    expansion_signal: dict[str, str] = {}
    # plays
    plays: list[PlayRun] = []
    counters: dict[str, int] = {}  # playbook → how many runs started (the n in child ids)
    last_started: dict[str, datetime] = {}  # playbook → last start (cool-downs)
    # counters
    received: int = 0  # signals received, all runs
    updates: int = 0  # score/metric updates applied
    rejected: int = 0
    alerts: int = 0  # trigger alerts sent (escalations by the journey)
    plays_started: int = 0
    runs: int = 1  # runs of this workflow id (continue-as-new)
    #: the scoring model the last run loaded (used if the file is broken when a run starts);
    #: journeys started by the previous release only: decisions now come from the worker
    model: Optional[ScoringModel] = None
    #: content hashes of the scoring model and the rules of the last decision
    model_hash: str = ""
    rules_hash: str = ""
    #: the search attribute values last upserted (carried, so a new run does not repeat them)
    published: list[str] = []
    #: dashboard rows written to the store, all runs (orders the writes: read_model.AccountRowWrite)
    row_seq: int = 0
    #: ids of the latest score batches received (a resent batch is not applied twice)
    batches: list[str] = []
    # queues
    inbox: list[Message] = []  # received, not yet handled
    waiting: list[Message] = []  # arrived before the deal closed: applied once it has
    timeline: list[JourneyEvent] = []


#: The journey code a run was started for (a versioned input, as Dittofeed versions its journeys'):
#: a run at version 1 takes every patch of docs/changing-workflows.md up to
#: `journey-facts-without-decision` without asking `workflow.patched` (each patch asked costs a new
#: run one visibility write, TemporalChangeVersion), and writes its dashboard row to the store.
#: Runs at version 0 (recorded before it) ask, as they did. A patch added later is asked again,
#: or comes with version 2.
JOURNEY_VERSION = 1


class JourneyInput(Model):
    account_id: AccountId
    state: Optional[JourneyState] = None  # set when continuing as new
    #: False on servers without the custom search attributes (e.g. the time-skipping test server).
    search_attributes: bool = True
    version: int = 0  # JOURNEY_VERSION when started by this release; 0: recorded before it


class JourneyView(Model):
    workflow_id: str
    account_id: str
    account_name: str = ""
    csm_id: str = ""
    closed_at: Optional[datetime] = None
    #: The journey's clock when it last did something (a query does not move it): lifecycle_day
    #: and phase are as of then.
    as_of: Optional[datetime] = None
    lifecycle_day: Optional[int] = None
    phase: Literal["waiting_for_deal", "onboarding", "lifecycle"]
    deals: list[DealRecord] = []
    score: Optional[float] = None
    band: str = ""
    score_note: str = ""
    metrics: dict[str, Any] = {}
    facts: dict[str, Any] = {}
    last_triggers: list[FiredTrigger] = []
    last_update_at: Optional[datetime] = None
    nps: list[NpsRecord] = []
    account_nps: Optional[float] = None
    active: dict[str, str] = {}  # slot → workflow id of the play running in it
    plays: list[PlayRun] = []
    received: int = 0
    updates: int = 0
    rejected: int = 0
    alerts: int = 0
    plays_started: int = 0
    waiting: int = 0  # updates kept until the deal closes
    queued: int = 0  # received, not handled yet
    runs: int = 1
    history_length: int = 0
    timeline: list[JourneyEvent] = []
