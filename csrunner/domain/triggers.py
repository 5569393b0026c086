"""Escalation triggers as data (SPEC §4; seeds 000 and 003).

PURE: imported by workflow code. No I/O and no clock: `now` is always an argument.
`evaluate` reports what changed since the previous observation (edge-triggered), so a
condition that keeps holding does not escalate again every night.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

Severity = Literal["warning", "critical"]
SEVERITY_RANK = {"warning": 1, "critical": 2}

# Metrics that feed triggers but not the score; score_metrics accepts them too. Percentages
# are numbers (30 = 30%); *_at values are aware datetimes or ISO-8601 strings.
TRIGGER_METRICS = frozenset(
    {
        "usage_drop_pct",  # seed 000: usage drop > 25% / > 50%
        "open_tickets",  # seed 000: support tickets > 5 / > 10
        "last_login_at",
        "days_since_login",  # seed 000: no login > 14 / > 30 days
        "contract_days_left",  # seed 000: contract expiry < 180 / < 90 days
        "usage_vs_goal_pct",  # seed 003: usage < 50% of goal for 2 weeks
        "oldest_unresolved_ticket_at",
        "oldest_unresolved_ticket_hours",  # seed 003: > 72 h
        "reply_rate",  # seed 003: < 4-week average -30%
        "active_dashboards",  # seed 003: no active dashboards
    }
)

# Defaults from the seeds; a model file's `triggers:` overrides any key, field by field.
SEED_DEFAULTS: dict[str, dict[str, Any]] = {
    "band_drop": {"critical_bands": ["critical"]},  # SPEC §4: a band drop
    "score_drop_window": {"points": 15, "days": 14},  # SPEC §4: N points in a window
    "health_below": {"warning": 50, "critical": 25},  # seed 000: health < 50 / < 25
    "usage_drop": {"warning": 25, "critical": 50},  # seed 000: drop > 25% / > 50%
    "support_tickets": {"warning": 5, "critical": 10},  # seed 000: tickets > 5 / > 10
    "no_login": {"warning": 14, "critical": 30},  # seed 000: > 14 / > 30 days
    "contract_expiry": {"warning": 180, "critical": 90},  # seed 000: < 180 / < 90 days
    "usage_below_goal": {"below_pct": 50, "days": 14},  # seed 003: < 50% for 2 weeks
    "tickets_unresolved": {"hours": 72},  # seed 003: unresolved > 72 h
    "reply_rate_drop": {"pct": 30, "days": 28},  # seed 003: < 4-week avg -30%
    "no_dashboards": {},  # seed 003: no active dashboards
}


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True


class _Severe(_Rule):
    severity: Severity = "warning"


class BandDrop(_Rule):
    """Any fall to a lower-ranked band: critical when it lands in `critical_bands`, else warning."""

    critical_bands: list[str]


class ScoreDrop(_Severe):
    points: float = Field(gt=0)
    days: float = Field(gt=0)


class Levels(_Rule):
    """A warning/critical threshold pair, fires when value > threshold; `None` turns a level off."""

    above: ClassVar[bool] = True
    warning: Optional[float] = None
    critical: Optional[float] = None

    @model_validator(mode="after")
    def _ordered(self) -> Levels:
        w, c = self.warning, self.critical
        if w is not None and c is not None and (c < w if self.above else c > w):
            raise ValueError(f"critical ({c:g}) must be {'above' if self.above else 'below'} warning ({w:g})")
        return self

    def level(self, value: float) -> Optional[tuple[Severity, float]]:
        pairs: tuple[tuple[Severity, Optional[float]], ...] = (
            ("critical", self.critical),
            ("warning", self.warning),
        )
        for sev, limit in pairs:
            if limit is not None and (value > limit if self.above else value < limit):
                return sev, limit
        return None


class Below(Levels):
    """Fires when value < threshold."""

    above: ClassVar[bool] = False


class UsageBelowGoal(_Severe):
    below_pct: float = Field(gt=0)
    days: float = Field(gt=0)


class TicketsUnresolved(_Severe):
    hours: float = Field(gt=0)


class ReplyRateDrop(_Severe):
    pct: float = Field(gt=0, lt=100)
    days: float = Field(gt=0)
    min_samples: int = Field(1, ge=1)


def _defaults(name: str):
    return Field(default_factory=lambda: dict(SEED_DEFAULTS[name]))


class TriggerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
    band_drop: BandDrop = _defaults("band_drop")
    score_drop_window: ScoreDrop = _defaults("score_drop_window")
    health_below: Below = _defaults("health_below")
    usage_drop: Levels = _defaults("usage_drop")
    support_tickets: Levels = _defaults("support_tickets")
    no_login: Levels = _defaults("no_login")
    contract_expiry: Below = _defaults("contract_expiry")
    usage_below_goal: UsageBelowGoal = _defaults("usage_below_goal")
    tickets_unresolved: TicketsUnresolved = _defaults("tickets_unresolved")
    reply_rate_drop: ReplyRateDrop = _defaults("reply_rate_drop")
    no_dashboards: _Severe = _defaults("no_dashboards")

    @model_validator(mode="before")
    @classmethod
    def _merge_seed_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for key, value in data.items():
            if isinstance(value, dict) and key in SEED_DEFAULTS:
                merged[key] = {**SEED_DEFAULTS[key], **value}
        return merged

    def history_days(self) -> float:
        """How far back `evaluate` looks; pass it to `trim_history`."""
        return max(self.score_drop_window.days, self.usage_below_goal.days, self.reply_rate_drop.days)


class Observation(BaseModel):
    at: AwareDatetime
    score: float = Field(ge=0, le=100)
    band: str
    band_rank: int
    metrics: dict[str, Any] = Field(default_factory=dict)


class FiredTrigger(BaseModel):
    name: str
    severity: Severity
    reason: str
