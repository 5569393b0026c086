"""Evaluating escalation triggers (SPEC §4; seeds 000 and 003) on a new observation against the
account's earlier ones: which conditions now hold that did not before. The triggers' data (their
configuration, observations, what fired) is csrunner.domain.triggers.

PURE: imported by workflow code. No I/O and no clock: `now` is always an argument.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Optional

from csrunner.domain.triggers import SEVERITY_RANK, FiredTrigger, Observation, Severity, TriggerConfig


def _fmt(x: float) -> str:
    return f"{round(x, 1):g}"


def _number(obs: Observation, name: str) -> Optional[float]:
    v = obs.metrics.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
        raise ValueError(f"metric '{name}' must be a number, got {v!r}")
    return float(v)


def _moment(obs: Observation, name: str) -> Optional[datetime]:
    v = obs.metrics.get(name)
    if v is None:
        return None
    try:
        t = v if isinstance(v, datetime) else datetime.fromisoformat(str(v))
    except ValueError:
        raise ValueError(f"metric '{name}' must be an ISO-8601 timestamp, got {v!r}") from None
    if t.tzinfo is None:
        raise ValueError(f"metric '{name}' needs a timezone, got {v!r}")
    return t


def _days_since_login(obs: Observation, now: datetime) -> Optional[float]:
    last = _moment(obs, "last_login_at")  # whole days, from the timestamp when there is one
    return float((now - last).days) if last else _number(obs, "days_since_login")


def _ticket_hours(obs: Observation, now: datetime) -> Optional[float]:
    oldest = _moment(obs, "oldest_unresolved_ticket_at")
    if oldest:
        return (now - oldest).total_seconds() / 3600
    return _number(obs, "oldest_unresolved_ticket_hours")


Check = Optional[tuple[Severity, str]]
Hist = list[Observation]  # earlier observations, sorted by time


def _band_drop(cfg: TriggerConfig, hist: Hist, new: Observation, now: datetime) -> Check:
    prev = hist[-1] if hist else None
    if prev is None or new.band_rank >= prev.band_rank:
        return None
    sev: Severity = "critical" if new.band in cfg.band_drop.critical_bands else "warning"
    return sev, f"band fell from {prev.band} to {new.band} (score {_fmt(prev.score)} → {_fmt(new.score)})"


def _score_drop(cfg: TriggerConfig, hist: Hist, new: Observation, now: datetime) -> Check:
    rule = cfg.score_drop_window
    window = [o for o in hist if now - o.at <= timedelta(days=rule.days)]
    peak = max(window, key=lambda o: (o.score, o.at), default=None)
    if peak is None or round(peak.score - new.score, 6) < rule.points:
        return None
    days = (now - peak.at).total_seconds() / 86400
    return rule.severity, (
        f"score fell {_fmt(peak.score - new.score)} points in {_fmt(days)} days "
        f"({_fmt(peak.score)} → {_fmt(new.score)})"
    )


def _levels(name: str, value: Callable[[Observation, datetime], Optional[float]], text: str):
    """A seed 000 warning/critical pair over one value; `text` gets {v} and {t}."""

    def check(cfg: TriggerConfig, hist: Hist, new: Observation, now: datetime) -> Check:
        v = value(new, now)
        hit = getattr(cfg, name).level(v) if v is not None else None
        return (hit[0], text.format(v=_fmt(v), t=_fmt(hit[1]))) if hit and v is not None else None

    return check


def _usage_below_goal(cfg: TriggerConfig, hist: Hist, new: Observation, now: datetime) -> Check:
    rule, v = cfg.usage_below_goal, _number(new, "usage_vs_goal_pct")
    if v is None or not v < rule.below_pct:
        return None
    start = new.at
    for o in reversed(hist):  # the unbroken run of below-goal observations ending now
        u = _number(o, "usage_vs_goal_pct")
        if u is None:
            continue
        if u >= rule.below_pct:
            break
        start = o.at
    days = (now - start).total_seconds() / 86400
    if days < rule.days:
        return None
    return rule.severity, f"usage at {_fmt(v)}% of goal, below {_fmt(rule.below_pct)}% for {_fmt(days)} days"


def _tickets_unresolved(cfg: TriggerConfig, hist: Hist, new: Observation, now: datetime) -> Check:
    rule, hours = cfg.tickets_unresolved, _ticket_hours(new, now)
    if hours is None or not hours > rule.hours:
        return None
    return rule.severity, f"oldest unresolved ticket is {_fmt(hours)} h old (over {_fmt(rule.hours)} h)"


def _reply_rate_drop(cfg: TriggerConfig, hist: Hist, new: Observation, now: datetime) -> Check:
    rule, v = cfg.reply_rate_drop, _number(new, "reply_rate")
    seen = [_number(o, "reply_rate") for o in hist if now - o.at <= timedelta(days=rule.days)]
    past = [p for p in seen if p is not None]
    if v is None or len(past) < rule.min_samples or sum(past) <= 0:
        return None
    avg = sum(past) / len(past)
    drop = round((avg - v) / avg * 100, 6)
    if not drop > rule.pct:
        return None
    return rule.severity, (
        f"reply rate {_fmt(v)} is {_fmt(drop)}% below its {_fmt(rule.days)}-day "
        f"average {_fmt(avg)} (limit {_fmt(rule.pct)}%)"
    )


def _no_dashboards(cfg: TriggerConfig, hist: Hist, new: Observation, now: datetime) -> Check:
    n = _number(new, "active_dashboards")
    return (cfg.no_dashboards.severity, "no active dashboards") if n is not None and n <= 0 else None


# Trigger name (also its TriggerConfig field) → check, in report order.
CHECKS: dict[str, Callable[[TriggerConfig, Hist, Observation, datetime], Check]] = {
    "band_drop": _band_drop,
    "score_drop_window": _score_drop,
    "health_below": _levels("health_below", lambda o, now: o.score, "health score {v} is below {t}"),
    "usage_drop": _levels(
        "usage_drop", lambda o, now: _number(o, "usage_drop_pct"), "usage dropped {v}% (over {t}%)"
    ),
    "support_tickets": _levels(
        "support_tickets", lambda o, now: _number(o, "open_tickets"), "{v} open support tickets (over {t})"
    ),
    "no_login": _levels("no_login", _days_since_login, "no login for {v} days (over {t})"),
    "contract_expiry": _levels(
        "contract_expiry",
        lambda o, now: _number(o, "contract_days_left"),
        "contract expires in {v} days (under {t})",
    ),
    "usage_below_goal": _usage_below_goal,
    "tickets_unresolved": _tickets_unresolved,
    "reply_rate_drop": _reply_rate_drop,
    "no_dashboards": _no_dashboards,
}


def _conditions(cfg: TriggerConfig, hist: Hist, new: Observation, now: datetime) -> list[FiredTrigger]:
    """Every enabled trigger that holds for `new`, given the earlier observations `hist`."""
    fired = []
    for name, check in CHECKS.items():
        hit = check(cfg, hist, new, now) if getattr(cfg, name).enabled else None
        if hit:
            fired.append(FiredTrigger(name=name, severity=hit[0], reason=hit[1]))
    return fired


def _aware(now: datetime) -> datetime:
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise ValueError(f"now must be a timezone-aware datetime, got {now!r}")
    return now


def evaluate(
    config: TriggerConfig,
    history: list[Observation],
    new: Observation,
    now: datetime,
    *,
    only_changes: bool = True,
) -> list[FiredTrigger]:
    """Triggers fired by `new`. With `only_changes` (default) a trigger that already held for the
    previous observation at the same or a higher severity is left out; band drops always count.
    `only_changes=False` lists every trigger that holds now."""
    now = _aware(now)
    hist = sorted((o for o in history if o.at <= now), key=lambda o: o.at)
    fired = _conditions(config, hist, new, now)
    if not only_changes or not hist:
        return fired
    before = {f.name: f for f in _conditions(config, hist[:-1], hist[-1], hist[-1].at)}
    return [
        f
        for f in fired
        if f.name == "band_drop"
        or f.name not in before
        or SEVERITY_RANK[f.severity] > SEVERITY_RANK[before[f.name].severity]
    ]


def trim_history(history: list[Observation], now: datetime, keep_days: float) -> list[Observation]:
    """Observations of the last `keep_days`, plus the newest older one (the state at the window's
    start), sorted by time. Use `config.history_days()` for `keep_days`."""
    now = _aware(now)
    cutoff = now - timedelta(days=keep_days)
    hist = sorted(history, key=lambda o: o.at)
    older = [o for o in hist if o.at < cutoff]
    return older[-1:] + [o for o in hist if o.at >= cutoff]
