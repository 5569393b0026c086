"""The journey's decisions as one pure function: what an update, an NPS answer, an expansion
signal or the end of onboarding means for the account (score, band, triggers fired, which play
starts or is preempted, cool-downs, referral asks).

The journey does not evaluate these in its own code: it asks the `journey_decide` activity,
which calls `decide` with the rules and scoring model the *worker* has now, and the answer lands
in the workflow's history. A rule fix deployed while journeys run applies to their next update
and replays of earlier updates read the recorded answer (docs/changing-workflows.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Optional

from csrunner.domain import journey_view, lifecycle
from csrunner.domain.definitions import PlaybookDefinition
from csrunner.domain.journey_messages import JourneyState, Message, NpsAnswer, NpsRecord, ScoreUpdate
from csrunner.domain.messages import Model
from csrunner.domain.read_model import AccountRowWrite
from csrunner.domain.scoring import Band, ScoringModel
from csrunner.domain.triggers import FiredTrigger, Observation

Kind = Literal["deal", "score", "nps", "expansion", "retention"]


class RuleRequest(Model):
    """What the journey knows (its state without queues, timeline or account) and what came."""

    kind: Kind
    state: JourneyState
    has_account: bool = True
    message: Optional[Message] = None
    #: kind "score": consecutive score updates at the head of the journey's queue
    messages: list[ScoreUpdate] = []
    now: datetime
    #: kind "score": the dashboard row the journey last wrote to the store, if it knows it
    row: Optional[AccountRowWrite] = None


class PlayStart(Model):
    """A play to start, with the catalog snapshot it runs (loaded once per worker)."""

    slot: str
    playbook: str
    reason: str
    definitions: dict[str, PlaybookDefinition] = {}
    span_days: int = 0
    catalog_hash: str = ""
    #: the playbook's content hash, computed where the catalog is cached (once per worker), so the
    #: journey need not hash what it received; empty in answers recorded before it
    content_hash: str = ""
    error: str = ""  # the catalog could not be read: the play is not started


class Outcome(Model):
    model_hash: str = ""
    rules_hash: str = ""
    #: the update could not be scored (e.g. the model changed since the client checked it)
    error: str = ""
    # score updates
    observation: Optional[Observation] = None
    band: Optional[Band] = None
    note: str = ""
    fired: list[FiredTrigger] = []
    #: indexes into [*history, observation] of what the journey keeps
    history_keep: list[int] = []
    #: expansion plays the band drop preempts
    drop: list[str] = []
    # plays
    decision: Optional[lifecycle.Decision] = None
    referral_ask: bool = False  # the healthy play's referral / case-study email goes with it
    # NPS answers
    category: str = ""
    referral_due: bool = False
    referral_why: str = ""
    #: what `decision.start` (or a deal's first plays) will run; filled in by the activity
    starts: list[PlayStart] = []
    #: the row the activity wrote for the journey with the last of a run of quiet updates
    #: (`quiet_row`); the journey then has nothing to write itself if its own row is the same
    row: Optional[AccountRowWrite] = None


def decide(rules: lifecycle.LifecycleRules, model: ScoringModel, req: RuleRequest) -> Outcome:
    st, now = req.state, req.now
    if req.kind == "score":
        assert isinstance(req.message, ScoreUpdate)
        return _score(rules, model, st, req.message, now, req.has_account)
    if req.kind == "retention":
        return _retention(rules, model, st, now, req.has_account)
    if req.kind == "nps":
        assert isinstance(req.message, NpsAnswer)
        cat = lifecycle.nps_category(req.message.score)
        if cat == "detractor":
            d = lifecycle.recovery_decision(rules, st.plays, st.last_started, cat, now)
            return Outcome(category=cat, decision=d)
        out = Outcome(category=cat)
        if cat == "promoter":  # judged with this answer as the latest
            m = req.message
            rec = NpsRecord(at=m.at or now, day=None, score=m.score, category=cat)
            out.referral_due, out.referral_why = lifecycle.referral_due(
                rules, [*st.nps, rec], st.metrics, st.referral_asked_at, now
            )
        return out
    if req.kind == "expansion":
        band = lifecycle.current_band(model, st)
        d = lifecycle.expansion_decision(
            rules, st.plays, st.last_started, model.bands, band, now, st.onboarding_until
        )
        return Outcome(decision=d)
    return Outcome()  # "deal": the first plays are fixed; the activity adds their definitions


def decide_scores(rules: lifecycle.LifecycleRules, model: ScoringModel, req: RuleRequest) -> list[Outcome]:
    """Consecutive updates in one call: each decided on the state the ones before it leave, up
    to the first that does something beyond the journey's own state (an alert, a play started or
    preempted, a referral ask); the journey asks again for the rest."""
    st, outs = req.state, []
    for m in req.messages:
        out = _score(rules, model, st, m, req.now, req.has_account)
        outs.append(out)
        if out.error:
            continue
        if has_effects(out):
            break
        assert out.observation is not None and out.band is not None
        items = [*st.history, out.observation]
        st = st.model_copy(
            update={
                "score": out.observation.score,
                "band": out.band.name,
                "band_rank": out.band.rank,
                "metrics": {**st.metrics, **m.metrics},
                "history": [items[i] for i in out.history_keep],
                "last_update_at": m.at,
            }
        )
    return outs


def quiet_row(req: RuleRequest, outs: list[Outcome]) -> Optional[AccountRowWrite]:
    """The journey's next dashboard row when these score updates move nothing on it but the score:
    each was scored, the band holds, nothing fired, starts or is preempted, no facts came. Written
    with the decision, it spares the journey a write of its own (a local activity per update).
    None when anything else may change the row: the journey then writes it, as always."""
    prev, band = req.row, req.state.band
    if prev is None or not band or len(outs) != len(req.messages):
        return None
    for m, out in zip(req.messages, outs, strict=True):
        if out.error or m.facts or out.band is None or out.band.name != band or has_effects(out):
            return None
    last = outs[-1].observation
    if last is None:
        return None
    row = prev.row.model_copy(update={"score": last.score})
    return prev.model_copy(update={"seq": prev.seq + 1, "row": row})


def has_effects(out: Outcome) -> bool:
    d = out.decision
    return bool(out.fired or out.drop or out.referral_ask or (d and (d.start or d.preempt)))


def _score(
    rules: lifecycle.LifecycleRules,
    model: ScoringModel,
    st: JourneyState,
    m: ScoreUpdate,
    now: datetime,
    has_account: bool,
) -> Outcome:
    try:
        a = lifecycle.assess(model, st.history, m, now)
    except ValueError as e:
        return Outcome(error=str(e))
    prev_rank = st.band_rank
    # the state as it is once the update is applied, for the decisions that follow it
    after = st.model_copy(
        update={
            "score": a.observation.score,
            "band": a.band.name,
            "band_rank": a.band.rank,
            "metrics": {**st.metrics, **m.metrics},
        }
    )
    items = [*st.history, a.observation]
    kept = journey_view.compact_history(items, now, model.triggers.history_days(), rules.history_max)
    ids = {id(o): i for i, o in enumerate(items)}
    out = _retention(rules, model, after, now, has_account)
    out.observation, out.band, out.note, out.fired = a.observation, a.band, a.note, a.fired
    out.history_keep = [ids[id(o)] for o in kept]
    out.drop = [p.workflow_id for p in lifecycle.drop_preemptions(st.plays, prev_rank, a.band.rank, now)]
    return out


def _retention(
    rules: lifecycle.LifecycleRules, model: ScoringModel, st: JourneyState, now: datetime, has_account: bool
) -> Outcome:
    band = lifecycle.current_band(model, st)
    if band is None or not has_account:
        return Outcome()
    d = lifecycle.retention_decision(
        rules, st.plays, st.last_started, model.bands, band, now, st.onboarding_until
    )
    ask = (
        d.start == lifecycle.healthy_play(model.bands)
        and lifecycle.referral_due(rules, st.nps, st.metrics, st.referral_asked_at, now)[0]
    )
    return Outcome(decision=d, referral_ask=ask, band=band)
