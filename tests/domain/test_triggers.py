"""Escalation triggers (SPEC §4; seeds 000 and 003) at their thresholds: just below, at, above.
The date-window logic is pure (`now` is an argument); freezegun pins the clock only here."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from pydantic import ValidationError

from csrunner.config.scoring_models import load_scoring_model
from csrunner.domain.trigger_checks import evaluate, trim_history
from csrunner.domain.triggers import Observation, TriggerConfig

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
CFG = TriggerConfig()
BANDS = [(80, "healthy", 3), (60, "at_risk", 2), (0, "critical", 1)]  # seed 004


def obs(score=90, at=NOW, **metrics):
    band, rank = next((b, r) for lo, b, r in BANDS if score >= lo)
    return Observation(at=at, score=score, band=band, band_rank=rank, metrics=metrics)


def days_ago(d, **kw):
    return NOW - timedelta(days=d, **kw)


def fired(new, history=(), now=NOW, cfg=CFG, **kw):
    return {f.name: f for f in evaluate(cfg, list(history), new, now, **kw)}


def severity(name, new, history=(), now=NOW):
    f = fired(new, history, now).get(name)
    return f.severity if f else None


@pytest.mark.parametrize(
    "metric,value,expected",
    [
        ("usage_drop_pct", 24.9, None),
        ("usage_drop_pct", 25, None),
        ("usage_drop_pct", 25.1, "warning"),
        ("usage_drop_pct", 50, "warning"),
        ("usage_drop_pct", 50.1, "critical"),
        ("open_tickets", 4, None),
        ("open_tickets", 5, None),
        ("open_tickets", 6, "warning"),
        ("open_tickets", 10, "warning"),
        ("open_tickets", 11, "critical"),
        ("days_since_login", 13, None),
        ("days_since_login", 14, None),
        ("days_since_login", 15, "warning"),
        ("days_since_login", 30, "warning"),
        ("days_since_login", 31, "critical"),
        ("contract_days_left", 181, None),
        ("contract_days_left", 180, None),
        ("contract_days_left", 179, "warning"),
        ("contract_days_left", 90, "warning"),
        ("contract_days_left", 89, "critical"),
        ("oldest_unresolved_ticket_hours", 71.9, None),
        ("oldest_unresolved_ticket_hours", 72, None),
        ("oldest_unresolved_ticket_hours", 72.1, "warning"),
        ("active_dashboards", 1, None),
        ("active_dashboards", 0, "warning"),
    ],
)
def test_metric_thresholds(metric, value, expected):
    name = {
        "usage_drop_pct": "usage_drop",
        "open_tickets": "support_tickets",
        "days_since_login": "no_login",
        "contract_days_left": "contract_expiry",
        "oldest_unresolved_ticket_hours": "tickets_unresolved",
        "active_dashboards": "no_dashboards",
    }[metric]
    assert severity(name, obs(**{metric: value})) == expected


@pytest.mark.parametrize(
    "score,expected",
    [  # seed 000: health < 50 warning, < 25 critical
        (51, None),
        (50, None),
        (49.9, "warning"),
        (25, "warning"),
        (24.9, "critical"),
        (0, "critical"),
    ],
)
def test_health_below(score, expected):
    assert severity("health_below", obs(score)) == expected


@pytest.mark.parametrize(
    "before,after,expected",
    [
        (85, 80, None),
        (80, 79, "warning"),
        (79, 60, None),
        (60, 59, "critical"),
        (95, 10, "critical"),
        (59, 60, None),
        (70, 90, None),
    ],
)
def test_band_drop(before, after, expected):
    assert severity("band_drop", obs(after), [obs(before, days_ago(1))]) == expected


def test_band_drop_reason():
    f = fired(obs(72), [obs(82, days_ago(1))])["band_drop"]
    assert f.reason == "band fell from healthy to at_risk (score 82 → 72)"


@pytest.mark.parametrize("peak,new,expected", [(82, 68, None), (82, 67, "warning"), (82, 66, "warning")])
def test_score_drop_points_threshold(peak, new, expected):  # default: 15 points within 14 days
    assert severity("score_drop_window", obs(new), [obs(peak, days_ago(5))]) == expected


@pytest.mark.parametrize(
    "age,expected",
    [
        (timedelta(days=13), "warning"),
        (timedelta(days=14), "warning"),
        (timedelta(days=14, seconds=1), None),
    ],
)
def test_score_drop_window_edge(age, expected):
    assert severity("score_drop_window", obs(64), [obs(82, NOW - age)]) == expected


def test_score_drop_reason_names_values():
    history = [obs(75, days_ago(12)), obs(82, days_ago(9)), obs(70, days_ago(3))]
    f = fired(obs(64), history)["score_drop_window"]
    assert f.reason == "score fell 18 points in 9 days (82 → 64)"


@pytest.mark.parametrize(
    "run,latest,expected",
    [  # seed 003: usage < 50% of goal for 2 weeks
        (timedelta(days=13, hours=23), 40, None),
        (timedelta(days=14), 40, "warning"),
        (timedelta(days=15), 49.9, "warning"),
        (timedelta(days=15), 50, None),
    ],
)
def test_usage_below_goal_sustained(run, latest, expected):
    history = [obs(at=NOW - run, usage_vs_goal_pct=45), obs(at=days_ago(3), usage_vs_goal_pct=30)]
    assert severity("usage_below_goal", obs(usage_vs_goal_pct=latest), history) == expected


def test_usage_below_goal_run_broken_or_gapped():
    broken = [
        obs(at=days_ago(20), usage_vs_goal_pct=10),
        obs(at=days_ago(10), usage_vs_goal_pct=50),
        obs(at=days_ago(5), usage_vs_goal_pct=10),
    ]
    assert severity("usage_below_goal", obs(usage_vs_goal_pct=10), broken) is None
    gapped = [obs(at=days_ago(20), usage_vs_goal_pct=10), obs(at=days_ago(10))]  # no metric: skipped
    f = fired(obs(usage_vs_goal_pct=10), gapped)["usage_below_goal"]
    assert f.reason == "usage at 10% of goal, below 50% for 20 days"


@pytest.mark.parametrize("latest,expected", [(14.1, None), (14, None), (13.9, "warning")])
def test_reply_rate_below_4_week_average(latest, expected):  # seed 003: < 4-week average -30%
    history = [obs(at=days_ago(d), reply_rate=r) for d, r in ((60, 1), (21, 18), (14, 22), (7, 20))]
    assert severity("reply_rate_drop", obs(reply_rate=latest), history) == expected


def test_reply_rate_reason():
    f = fired(obs(reply_rate=10), [obs(at=days_ago(7), reply_rate=20)])["reply_rate_drop"]
    assert f.reason == "reply rate 10 is 50% below its 28-day average 20 (limit 30%)"


@freeze_time("2024-06-01 12:00:00")
@pytest.mark.parametrize(
    "since,expected",
    [
        (timedelta(days=14), None),
        (timedelta(days=14, hours=23), None),
        (timedelta(days=15), "warning"),
        (timedelta(days=30, hours=23), "warning"),
        (timedelta(days=31), "critical"),
    ],
)
def test_no_login_from_last_login_at(since, expected):  # seed 000: > 14 / > 30 whole days
    now = datetime.now(UTC)
    for last in (now - since, (now - since).isoformat()):
        assert severity("no_login", obs(at=now, last_login_at=last), now=now) == expected


@freeze_time("2024-06-01 12:00:00")
@pytest.mark.parametrize(
    "age,expected",
    [
        (timedelta(hours=71), None),
        (timedelta(hours=72), None),
        (timedelta(hours=72, minutes=1), "warning"),
    ],
)
def test_ticket_age_from_timestamp(age, expected):  # seed 003: unresolved > 72 h
    now = datetime.now(UTC)
    new = obs(at=now, oldest_unresolved_ticket_at=(now - age).isoformat().replace("+00:00", "Z"))
    assert severity("tickets_unresolved", new, now=now) == expected


@freeze_time("2024-06-01 12:00:00")
def test_windows_use_the_given_now_not_the_clock():
    later = datetime(2024, 7, 20, tzinfo=UTC)
    new = obs(at=later, last_login_at="2024-06-01T12:00:00+00:00")
    assert fired(new, now=later)["no_login"].reason == "no login for 48 days (over 30)"
    assert "no_login" not in fired(obs(last_login_at="2024-06-01T12:00:00+00:00"))


def test_only_changes_by_default():
    prev = obs(at=days_ago(1), open_tickets=7, contract_days_left=120)
    assert "support_tickets" not in fired(obs(open_tickets=8, contract_days_left=119), [prev])
    escalated = fired(obs(open_tickets=11, contract_days_left=119), [prev])
    assert escalated["support_tickets"].severity == "critical" and "contract_expiry" not in escalated
    everything = fired(obs(open_tickets=8, contract_days_left=119), [prev], only_changes=False)
    assert {"support_tickets", "contract_expiry"} <= set(everything)


def test_every_band_drop_fires_even_at_same_severity():
    history = [obs(95, days_ago(2)), obs(79, days_ago(1))]
    assert fired(obs(65), history) == {}  # same band: nothing new
    history = [obs(95, days_ago(20)), obs(82, days_ago(1))]
    assert fired(obs(75), history)["band_drop"].severity == "warning"


def test_trim_history_keeps_window_and_anchor():
    history = [obs(at=days_ago(d), usage_vs_goal_pct=40) for d in (40, 30, 20, 10, 0)]
    kept = trim_history(list(reversed(history)), NOW, CFG.history_days())
    assert [o.at for o in kept] == [days_ago(d) for d in (30, 20, 10, 0)]
    new = obs(usage_vs_goal_pct=40)  # same triggers; only the run length named in the reason is capped
    same = [{n: f.severity for n, f in fired(new, h, only_changes=False).items()} for h in (kept, history)]
    assert same[0] == same[1] == {"usage_below_goal": "warning"}


def test_config_overrides_merge_with_seed_defaults():
    cfg = TriggerConfig.model_validate(
        {
            "usage_drop": {"warning": 30},
            "no_login": {"enabled": False},
            "score_drop_window": {"points": 10, "severity": "critical"},
        }
    )
    assert (cfg.usage_drop.warning, cfg.usage_drop.critical) == (30, 50)
    assert cfg.contract_expiry.critical == 90 and cfg.score_drop_window.days == 14
    new = obs(70, usage_drop_pct=29, days_since_login=99)
    got = fired(new, [obs(80, days_ago(1))], cfg=cfg)
    assert "usage_drop" not in got and "no_login" not in got
    assert got["score_drop_window"].severity == "critical"


def test_model_files_agree_with_code_defaults():
    path = Path(__file__).resolve().parents[2] / "playbooks" / "scoring" / "seed004.yaml"
    assert load_scoring_model(path).triggers == CFG


@pytest.mark.parametrize(
    "data,message",
    [
        ({"contract_expiry": {"warning": 90, "critical": 180}}, "critical \\(180\\) must be below warning"),
        ({"no_login": {"warning": "two weeks"}}, "no_login.warning"),
        ({"usage_drop": {"above": False}}, "Extra inputs are not permitted"),
        ({"nonsense": {}}, "nonsense"),
    ],
)
def test_bad_config(data, message):
    with pytest.raises(ValidationError, match=message):
        TriggerConfig.model_validate(data)


def test_bad_input():
    with pytest.raises(ValueError, match="now must be a timezone-aware datetime"):
        evaluate(CFG, [], obs(), datetime(2024, 6, 1))
    with pytest.raises(ValueError, match="metric 'open_tickets' must be a number"):
        evaluate(CFG, [], obs(open_tickets="many"), NOW)
    with pytest.raises(ValueError, match="metric 'last_login_at' needs a timezone"):
        evaluate(CFG, [], obs(last_login_at="2024-05-01T00:00:00"), NOW)
    with pytest.raises(ValidationError):
        Observation(at=datetime(2024, 6, 1), score=50, band="critical", band_rank=1)
