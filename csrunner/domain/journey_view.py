"""What the journey carries and shows: its state kept small (history, finished plays, when to
continue-as-new), the texts and values plays and templates see, the search attributes and the view.
PURE like csrunner.domain.lifecycle (no I/O, no clock: `now` is an argument)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Optional

from csrunner.domain.journey_messages import (
    JourneyState,
    JourneyView,
    NpsRecord,
    PlayRun,
)
from csrunner.domain.lifecycle import TEMPLATE_ALIASES, LifecycleRules, active_plays, lifecycle_day, nps
from csrunner.domain.trigger_checks import trim_history
from csrunner.domain.triggers import FiredTrigger, Observation

# --- state size ------------------------------------------------------------------------------


def compact_history(
    history: Sequence[Observation], now: datetime, keep_days: float, max_items: int
) -> list[Observation]:
    """What the triggers need: the window (plus the state at its start) with older days thinned
    to their last observation, the last 24 h in full, at most `max_items` (the newest)."""
    hist = trim_history(list(history), now, keep_days)
    recent_from = now - timedelta(days=1)
    out: list[Observation] = []
    for o in hist:
        if o.at < recent_from and out and out[-1].at.date() == o.at.date():
            out[-1] = o  # same older day: keep its last observation
        else:
            out.append(o)
    return out[-max_items:]


def keep_plays(plays: list[PlayRun], finished_max: int) -> list[PlayRun]:
    finished = [p for p in plays if p.status != "running"]
    drop = {id(p) for p in finished[:-finished_max]} if len(finished) > finished_max else set()
    return [p for p in plays if id(p) not in drop]


def continue_as_new_reason(
    rules: LifecycleRules, history_length: int, signals: int, suggested: bool
) -> Optional[str]:
    if suggested:
        return "Temporal suggested continue-as-new"
    if history_length >= rules.history_budget:
        return f"{history_length} history events (budget {rules.history_budget})"
    if signals >= rules.signal_budget:
        return f"{signals} signals in this run (budget {rules.signal_budget}; the limit is 10,000)"
    return None


# --- what plays and templates see ------------------------------------------------------------


def template_metrics(
    metrics: Mapping[str, Any],
    score: Optional[float],
    band: str,
    triggers: Sequence[FiredTrigger],
    answers: Sequence[NpsRecord],
    expansion_signal: Mapping[str, str],
) -> dict[str, Any]:
    """The `metrics` the plays' templates read: the latest raw metrics, the names the seed's
    email templates use, the health score and band, the triggers of the last alert, NPS."""
    out = {k: v for k, v in metrics.items() if v is not None}
    out.update({alias: out[k] for k, alias in TEMPLATE_ALIASES.items() if k in out})
    if score is not None:
        out.update(health_score=round(score) if float(score).is_integer() else score, band=band)
    if triggers:
        out["triggers"] = [t.model_dump() for t in triggers]
    if answers:
        last = answers[-1]
        out.update(
            nps_score=last.score,
            nps_category=last.category,
            nps_comment=last.comment,
            account_nps=nps(a.score for a in answers),
        )
    if expansion_signal:
        out.update(
            expansion_signal=expansion_signal.get("signal", ""),
            expansion_detail=expansion_signal.get("detail", ""),
        )
    return out


def alert(
    fired: Sequence[FiredTrigger], score: float, band: str, previous: str, day: Optional[int], source: str
) -> tuple[str, list[str], dict[str, Any], str]:
    """What a trigger alert says and to whom: (severity, roles, template context, timeline text).
    Critical alerts reach the CS manager as well as the CSM."""
    severity = "critical" if any(t.severity == "critical" for t in fired) else "warning"
    roles = ["csm", "manager"] if severity == "critical" else ["csm"]
    context = {
        "score": f"{score:g}",
        "band": band,
        "previous_band": previous,
        "severity": severity,
        "day": day,
        "source": source,
        "triggers": [t.model_dump() for t in fired],
        "next": "",
    }
    text = "; ".join(f"{t.name} ({t.severity}): {t.reason}" for t in fired)
    return severity, roles, context, text


def run_context(closed_at: Optional[datetime], now: datetime, workflow_id: str) -> dict[str, Any]:
    """The `run` a template sees in what the journey sends itself."""
    return {
        "playbook": "journey",
        "playbook_name": "Account journey",
        "version": 1,
        "step": None,
        "day": lifecycle_day(closed_at, now),
        "started_on": closed_at.date().isoformat() if closed_at else "",
        "local_date": now.date().isoformat(),
        "workflow_id": workflow_id,
    }


def search_values(state: JourneyState, now: datetime) -> tuple:
    """Search attributes: account, CSM, band, and the active play (retention, else onboarding)."""
    active = active_plays(state.plays, now)
    play = next(
        (
            p.playbook
            for p in reversed(state.plays)
            if p.workflow_id in (active.get("retention"), active.get("onboarding"))
        ),
        "",
    )
    acc = state.account
    return (acc.id if acc else state.account_id), (acc.csm.id if acc else ""), state.band, play


def view(
    state: JourneyState, workflow_id: str, now: datetime, history_length: int, queued: int
) -> JourneyView:
    st, acc = state, state.account
    phase = (
        "waiting_for_deal"
        if acc is None
        else "onboarding"
        if st.onboarding_until and now < st.onboarding_until
        else "lifecycle"
    )
    return JourneyView(
        workflow_id=workflow_id,
        account_id=st.account_id,
        account_name=acc.name if acc else "",
        csm_id=acc.csm.id if acc else "",
        closed_at=st.closed_at,
        as_of=now,
        lifecycle_day=lifecycle_day(st.closed_at, now),
        phase=phase,
        deals=list(st.deals.values()),
        score=st.score,
        band=st.band,
        score_note=st.score_note,
        metrics=st.metrics,
        facts=st.facts,
        last_triggers=st.last_triggers,
        last_update_at=st.last_update_at,
        nps=st.nps,
        account_nps=nps(a.score for a in st.nps),
        active=active_plays(st.plays, now),
        plays=st.plays,
        received=st.received,
        updates=st.updates,
        rejected=st.rejected,
        alerts=st.alerts,
        plays_started=st.plays_started,
        waiting=len(st.waiting),
        queued=queued,
        runs=st.runs,
        history_length=history_length,
        timeline=st.timeline,
    )
