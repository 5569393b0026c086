"""The account lifecycle's rules: which play runs, which one is preempted, NPS maths, when to
continue-as-new. PURE and deterministic (imported by workflows/journey.py): no I/O, no clock
(`now` is always an argument), so every rule is a table test without Temporal.

Plays live in slots: one `retention` play at a time (its playbook comes from the score band),
plus `onboarding`, `nps`, `recovery` (NPS detractors) and `expansion`. A play counts as *active*
while it runs and its schedule is not over (`PlayRun.ends_at`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from csrunner.domain.definitions import PlaybookDefinition, StartPlaybookStep
from csrunner.domain.health import band_for, make_observation, score_metrics
from csrunner.domain.journey_messages import (
    DealRecord,
    JourneyState,
    NpsRecord,
    PlayRun,
    ScoreUpdate,
)
from csrunner.domain.scoring import Band, ScoringModel
from csrunner.domain.trigger_checks import evaluate
from csrunner.domain.triggers import FiredTrigger, Observation
from csrunner.domain.values import check_nps

ONBOARDING, NPS, RECOVERY, EXPANSION = "onboarding", "nps", "nps-recovery", "expansion"
SLOTS = ("onboarding", "nps", "retention", "recovery", "expansion")
REFERRAL_TEMPLATE = "referral_case_study_ask"
#: feed metric → the name the seed's email templates use
TEMPLATE_ALIASES = {
    "roi_pct": "roi",
    "open_rate_pct": "open_rate",
    "click_rate_pct": "click_rate",
    "conversion_rate_pct": "conversion_rate",
}


class LifecycleRules(BaseModel):
    """Defaults of the journey; a JourneyInput could carry others (tests use these)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: Re-entering a band whose play started less than this ago does not restart it (nor re-send).
    cooldown_days: float = Field(14, ge=0)
    recovery_cooldown_days: float = Field(14, ge=0)
    expansion_cooldown_days: float = Field(28, ge=0)
    #: A promoter is asked for a referral / case study at most this often ...
    referral_cooldown_days: float = Field(90, ge=0)
    #: ... when the answer is this recent and ROI is measurable (seed 003 "post-ROI medible";
    #: seed 004's ROI table gives points from 100%).
    promoter_valid_days: float = Field(120, gt=0)
    measurable_roi_pct: float = Field(100, ge=0)
    # size of the state carried by continue-as-new
    history_max: int = Field(40, ge=2)
    timeline_max: int = Field(200, ge=10)
    finished_plays_max: int = Field(30, ge=1)
    nps_max: int = Field(24, ge=2)
    waiting_max: int = Field(100, ge=1)
    #: Continue-as-new at this many history events (Temporal suggests it at 4,096 and warns at
    #: 10,240) or this many signals in one run (the hard limit is 10,000 per run).
    history_budget: int = Field(2000, ge=100)
    signal_budget: int = Field(1500, ge=10)
    #: Updates handled in one workflow task before it yields: only a backlog (a worker back after
    #: an outage) reaches it; it keeps each task under the SDK's 2-second deadlock limit.
    handle_per_task: int = Field(500, ge=1)
    #: At most this many queued updates travel in the state to the next run (payload size).
    carry_max: int = Field(1000, ge=0)


RULES = LifecycleRules()


class Decision(BaseModel):
    start: Optional[str] = None  # playbook to start
    preempt: list[str] = []  # workflow ids of plays to end
    note: str = ""  # why, for the timeline
    quiet: bool = False  # nothing changes and nothing worth saying (the right play runs)


# --- what arrives ---------------------------------------------------------------------------


def receive(rules: LifecycleRules, state: JourneyState, m, now: datetime) -> None:
    """Queue what a signal brought (the handlers do only this; the main loop handles the queue).
    A deal already recorded, or for another account, changes nothing. Updates that arrive before
    the first deal wait for it (beyond `waiting_max`, the oldest scores are dropped first)."""
    if m.kind == "deal_closed":
        if m.deal_id in state.deals or m.account.id != state.account_id:
            return
        closed = min(m.closed_at or now, now)
        state.deals[m.deal_id] = DealRecord(
            deal_id=m.deal_id, token=m.token, closed_at=closed, started_lifecycle=not state.deals
        )
        state.received += 1
        return state.inbox.append(m.model_copy(update={"closed_at": closed}))
    state.received += 1
    m = m.model_copy(update={"at": min(m.at or now, now)})
    if state.deals:
        return state.inbox.append(m)
    state.waiting.append(m)
    if len(state.waiting) > rules.waiting_max:
        del state.waiting[next((i for i, w in enumerate(state.waiting) if w.kind == "score"), 0)]


# --- health updates ----------------------------------------------------------------------------


class Assessment(BaseModel):
    observation: Observation
    band: Band
    fired: list[FiredTrigger]
    note: str = ""  # says so when the score came from partial metrics


def assess(
    model: ScoringModel, history: Sequence[Observation], update: ScoreUpdate, now: datetime
) -> Assessment:
    """Score an update (a ready score, or metrics through the model), find its band and the
    triggers it fires against the earlier observations. ValueError when it cannot be scored."""
    note, score = "", update.score
    if score is None:
        res = score_metrics(model, update.metrics)
        score, note = res.score, res.note
    obs = make_observation(model, update.at or now, metrics=update.metrics, score=score)
    return Assessment(
        observation=obs,
        band=band_for(model, obs.score),
        fired=evaluate(model.triggers, list(history), obs, now),
        note=note,
    )


# --- NPS -------------------------------------------------------------------------------------


def nps_category(score: int) -> str:
    """Seed 003 / SPEC 3.5: promoters 9-10, passives 7-8, detractors 0-6."""
    score = check_nps(score)
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def nps(scores: Iterable[int]) -> Optional[float]:
    """Net Promoter Score: % promoters - % detractors, one decimal; None without answers."""
    cats = [nps_category(s) for s in scores]
    if not cats:
        return None
    return round(100 * (cats.count("promoter") - cats.count("detractor")) / len(cats), 1)


def portfolio_nps(answers: Mapping[str, Sequence[int]], latest_only: bool = False) -> Optional[float]:
    """NPS over every answer of every account, or over each account's latest answer."""
    scores = (
        [a[-1] for a in answers.values() if a] if latest_only else [s for a in answers.values() for s in a]
    )
    return nps(scores)


# --- plays -----------------------------------------------------------------------------------


def lifecycle_day(closed_at: Optional[datetime], now: datetime) -> Optional[int]:
    return None if closed_at is None else (now - closed_at) // timedelta(days=1)


def span_days(defs: Mapping[str, PlaybookDefinition], playbook: str) -> int:
    """Days a playbook's schedule covers, following handovers (onboarding 8 + scaling 7 = 15)."""
    d = defs[playbook]
    for s in d.steps:
        if isinstance(s, StartPlaybookStep) and s.mode == "handover" and s.playbook in defs:
            return s.day + span_days(defs, s.playbook)
    return max(s.day for s in d.steps) + 1


def active(plays: Sequence[PlayRun], slot: str, now: datetime) -> Optional[PlayRun]:
    return next(
        (p for p in reversed(plays) if p.slot == slot and p.status == "running" and now < p.ends_at), None
    )


def active_plays(plays: Sequence[PlayRun], now: datetime) -> dict[str, str]:
    """slot → workflow id of the play active in it."""
    return {slot: p.workflow_id for slot in SLOTS if (p := active(plays, slot, now))}


def current_band(model: ScoringModel, state: JourneyState) -> Optional[Band]:
    """The account's band in `model` (re-derived from the score if the model has changed)."""
    if state.score is None:
        return None
    return next((b for b in model.bands if b.name == state.band), None) or band_for(model, state.score)


def healthy_play(bands: Sequence[Band]) -> str:
    return max(bands, key=lambda b: b.rank).play


def urgency(bands: Sequence[Band], play: str) -> int:
    """Higher = more urgent: the play of the lowest bands wins (critical > at-risk > healthy)."""
    ranks = [b.rank for b in bands if b.play == play]
    return -max(ranks) if ranks else 0


def _ago(now: datetime, then: datetime) -> str:
    return f"{round((now - then) / timedelta(days=1), 1):g} days ago"


def _cooling(last_started: Mapping[str, datetime], playbook: str, now: datetime, days: float):
    since = last_started.get(playbook)
    return since if since is not None and now - since < timedelta(days=days) else None


def retention_decision(
    rules: LifecycleRules,
    plays: Sequence[PlayRun],
    last_started: Mapping[str, datetime],
    bands: Sequence[Band],
    band: Band,
    now: datetime,
    hold_until: Optional[datetime] = None,
) -> Decision:
    """One retention play at a time: the band's play. A more urgent play preempts a less urgent
    one, and a rise ends the more urgent one (it closes the escalation). Re-entering a band whose
    play started within the cool-down does not restart it, nor re-send its email."""
    want = band.play
    if hold_until is not None and now < hold_until:
        return Decision(note=f"onboarding runs until {hold_until:%Y-%m-%d}; {want} waits for it")
    cur = active(plays, "retention", now)
    if cur is not None and cur.playbook == want:
        return Decision(quiet=True, note=f"{want} already running ({cur.workflow_id})")
    ending = [cur.workflow_id] if cur else []
    why = ""
    if cur is not None:
        rising = urgency(bands, want) < urgency(bands, cur.playbook)
        why = (
            f"; the score rose, so {cur.playbook} ends (escalation closed)"
            if rising
            else f"; it preempts {cur.playbook}"
        )
    since = _cooling(last_started, want, now, rules.cooldown_days)
    if since is not None:
        return Decision(
            preempt=ending,
            note=(
                f"band {band.name}: {want} started {_ago(now, since)}, "
                f"within the {rules.cooldown_days:g}-day "
                f"cool-down: not restarted, its email not re-sent{why}"
            ),
        )
    return Decision(start=want, preempt=ending, note=f"band {band.name}{why}")


def drop_preemptions(
    plays: Sequence[PlayRun], prev_rank: Optional[int], new_rank: int, now: datetime
) -> list[PlayRun]:
    """Any drop to a lower band preempts the expansion play."""
    if prev_rank is None or new_rank >= prev_rank:
        return []
    exp = active(plays, "expansion", now)
    return [exp] if exp else []


def expansion_decision(
    rules: LifecycleRules,
    plays: Sequence[PlayRun],
    last_started: Mapping[str, datetime],
    bands: Sequence[Band],
    band: Optional[Band],
    now: datetime,
    hold_until: Optional[datetime] = None,
) -> Decision:
    """The 4-week expansion starts only for a healthy account with an expansion signal."""
    if hold_until is not None and now < hold_until:
        return Decision(note="expansion signal noted; no expansion play during onboarding")
    if band is None or band.play != healthy_play(bands):
        return Decision(
            note=f"expansion signal noted; no expansion play: the account is "
            f"{band.name if band else 'not scored yet'}, not healthy"
        )
    cur = active(plays, "expansion", now)
    if cur is not None:
        return Decision(quiet=True, note=f"expansion already running ({cur.workflow_id})")
    since = _cooling(last_started, EXPANSION, now, rules.expansion_cooldown_days)
    if since is not None:
        return Decision(
            note=f"expansion signal noted; expansion started {_ago(now, since)} "
            f"(cool-down {rules.expansion_cooldown_days:g} days)"
        )
    return Decision(start=EXPANSION, note=f"healthy ({band.name}) with an expansion signal")


def recovery_decision(
    rules: LifecycleRules,
    plays: Sequence[PlayRun],
    last_started: Mapping[str, datetime],
    category: str,
    now: datetime,
) -> Decision:
    """A detractor starts the recovery play, once per cool-down."""
    if category != "detractor":
        return Decision(quiet=True)
    cur = active(plays, "recovery", now)
    if cur is not None:
        return Decision(note=f"detractor again; recovery already running ({cur.workflow_id})")
    since = _cooling(last_started, RECOVERY, now, rules.recovery_cooldown_days)
    if since is not None:
        return Decision(
            note=f"detractor again; recovery started {_ago(now, since)} "
            f"(cool-down {rules.recovery_cooldown_days:g} days)"
        )
    return Decision(start=RECOVERY, note="NPS detractor (0-6)")


def _number(v: Any) -> Optional[float]:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def referral_due(
    rules: LifecycleRules,
    answers: Sequence[NpsRecord],
    metrics: Mapping[str, Any],
    asked_at: Optional[datetime],
    now: datetime,
) -> tuple[bool, str]:
    """A promoter after measurable ROI gets the referral / case-study ask (seed 003)."""
    last = answers[-1] if answers else None
    if last is None or last.category != "promoter":
        return False, "no recent promoter answer"
    if now - last.at > timedelta(days=rules.promoter_valid_days):
        return False, f"the promoter answer is older than {rules.promoter_valid_days:g} days"
    roi = _number(metrics.get("roi_pct"))
    if roi is None or roi < rules.measurable_roi_pct:
        return False, (
            f"ROI not measurable yet (roi_pct {roi if roi is not None else 'unknown'}, "
            f"needs {rules.measurable_roi_pct:g}+)"
        )
    if asked_at is not None and now - asked_at < timedelta(days=rules.referral_cooldown_days):
        return False, f"already asked {_ago(now, asked_at)}"
    return True, f"promoter ({last.score}) with ROI {roi:g}%"
