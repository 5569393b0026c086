"""Scoring models (SPEC §4): seed 004 point tables, band edges of the three model files, partial
metrics, and bad input named by field and file:line:column."""

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from csrunner.config.scoring_models import load_scoring_model
from csrunner.config.settings import Settings
from csrunner.config.sourcemap import DefinitionError
from csrunner.domain.health import band_for, make_observation, score_metrics
from csrunner.domain.scoring import ScoringModel
from csrunner.domain.values import check_health_score as check_score

MODELS = Path(__file__).resolve().parents[2] / "playbooks" / "scoring"
FULL = dict(
    login_frequency="daily",
    feature_usage_pct=80,
    campaigns_per_month=5,
    roi_pct=300,
    open_rate_pct=31,
    click_rate_pct=7,
    conversion_rate_pct=11,
    revenue_increase_pct=21,
    support_rating=9,
    communication_frequency="weekly",
    expansion_interest="active",
)


@pytest.fixture(scope="module")
def models():
    return {n: load_scoring_model(MODELS / f"{n}.yaml") for n in ("seed004", "seed000", "seed003")}


@pytest.mark.parametrize(
    "name,score,band,play",
    [
        ("seed004", 0, "critical", "retention-critical"),
        ("seed004", 59, "critical", "retention-critical"),
        ("seed004", 59.9, "critical", "retention-critical"),
        ("seed004", 60, "at_risk", "retention-at-risk"),
        ("seed004", 79, "at_risk", "retention-at-risk"),
        ("seed004", 79.9, "at_risk", "retention-at-risk"),
        ("seed004", 80, "healthy", "retention-healthy"),
        ("seed004", 100, "healthy", "retention-healthy"),
        ("seed000", 25, "critical", "retention-critical"),
        ("seed000", 26, "at_risk", "retention-at-risk"),
        ("seed000", 50, "at_risk", "retention-at-risk"),
        ("seed000", 51, "stable", "retention-at-risk"),
        ("seed000", 75, "stable", "retention-at-risk"),
        ("seed000", 76, "healthy", "retention-healthy"),
        ("seed000", 90, "healthy", "retention-healthy"),
        ("seed000", 91, "thriving", "retention-healthy"),
        ("seed003", 59, "critical", "retention-critical"),
        ("seed003", 60, "at_risk", "retention-at-risk"),
        ("seed003", 79, "at_risk", "retention-at-risk"),
        ("seed003", 80, "healthy", "retention-healthy"),
    ],
)
def test_band_edges(models, name, score, band, play):
    b = band_for(models[name], score)
    assert (b.name, b.play) == (band, play)


@pytest.mark.parametrize(
    "name,sub,band",
    [  # weighted models: equal sub-scores give that score
        ("seed000", 25, "critical"),
        ("seed000", 26, "at_risk"),
        ("seed000", 50, "at_risk"),
        ("seed000", 51, "stable"),
        ("seed000", 75, "stable"),
        ("seed000", 76, "healthy"),
        ("seed000", 90, "healthy"),
        ("seed000", 91, "thriving"),
        ("seed003", 59, "critical"),
        ("seed003", 60, "at_risk"),
        ("seed003", 79, "at_risk"),
        ("seed003", 80, "healthy"),
    ],
)
def test_weighted_models_score_end_to_end(models, name, sub, band):
    m = models[name]
    r = score_metrics(m, {k: sub for k in m.metric_names()})
    assert (r.score, r.band, r.partial) == (sub, band, False)


def test_weighted_components_scale_by_weight(models):  # seed 000: usage 40/engagement 25/...
    r = score_metrics(
        models["seed000"], dict(usage_score=100, engagement_score=0, value_score=50, relationship_score=0)
    )
    assert r.points == {"usage": 40, "engagement": 0, "value": 10, "relationship": 0}
    assert r.score == 50


@pytest.mark.parametrize(
    "changes,score,band",
    [
        ({}, 100, "healthy"),
        ({"communication_frequency": "never", "roi_pct": 250, "open_rate_pct": 30}, 80, "healthy"),
        ({"communication_frequency": "never", "roi_pct": 250, "feature_usage_pct": 50}, 79, "at_risk"),
        (
            {
                "communication_frequency": "never",
                "expansion_interest": "not_interested",
                "support_rating": 4,
                "login_frequency": "never",
            },
            60,
            "at_risk",
        ),
        (
            {
                "communication_frequency": "never",
                "expansion_interest": "not_interested",
                "support_rating": 4,
                "roi_pct": 250,
                "feature_usage_pct": 50,
            },
            59,
            "critical",
        ),
    ],
)
def test_default_model_band_edges_from_metrics(models, changes, score, band):
    r = score_metrics(models["seed004"], {**FULL, **changes})
    assert (r.score, r.band, r.partial) == (score, band, False)


@pytest.mark.parametrize(
    "metric,value,component,points",
    [  # seed 004 point tables, at each edge
        ("login_frequency", "daily", "login_frequency", 10),
        ("login_frequency", "weekly", "login_frequency", 7),
        ("login_frequency", "monthly", "login_frequency", 3),
        ("login_frequency", "never", "login_frequency", 0),
        ("login_frequency", " Daily ", "login_frequency", 10),
        ("feature_usage_pct", 80, "feature_usage", 10),
        ("feature_usage_pct", 79, "feature_usage", 7),
        ("feature_usage_pct", 79.9, "feature_usage", 7),
        ("feature_usage_pct", 60, "feature_usage", 7),
        ("feature_usage_pct", 59, "feature_usage", 4),
        ("feature_usage_pct", 40, "feature_usage", 4),
        ("feature_usage_pct", 39, "feature_usage", 0),
        ("campaigns_per_month", 5, "campaign_activity", 10),
        ("campaigns_per_month", 4, "campaign_activity", 7),
        ("campaigns_per_month", 3, "campaign_activity", 7),
        ("campaigns_per_month", 2, "campaign_activity", 4),
        ("campaigns_per_month", 1, "campaign_activity", 4),
        ("campaigns_per_month", 0, "campaign_activity", 0),
        ("roi_pct", 300, "roi_achievement", 15),
        ("roi_pct", 299, "roi_achievement", 10),
        ("roi_pct", 200, "roi_achievement", 10),
        ("roi_pct", 199, "roi_achievement", 5),
        ("roi_pct", 100, "roi_achievement", 5),
        ("roi_pct", 99, "roi_achievement", 0),
        ("open_rate_pct", 30, "performance_metrics", 0),
        ("open_rate_pct", 30.1, "performance_metrics", 5),
        ("click_rate_pct", 6, "performance_metrics", 0),
        ("click_rate_pct", 6.1, "performance_metrics", 5),
        ("conversion_rate_pct", 10, "performance_metrics", 0),
        ("conversion_rate_pct", 10.1, "performance_metrics", 5),
        ("revenue_increase_pct", 20.1, "business_impact", 10),
        ("revenue_increase_pct", 20, "business_impact", 7),
        ("revenue_increase_pct", 10, "business_impact", 7),
        ("revenue_increase_pct", 9, "business_impact", 4),
        ("revenue_increase_pct", 5, "business_impact", 4),
        ("revenue_increase_pct", 4.9, "business_impact", 0),
        ("support_rating", 10, "support_satisfaction", 10),
        ("support_rating", 9, "support_satisfaction", 10),
        ("support_rating", 8, "support_satisfaction", 7),
        ("support_rating", 7, "support_satisfaction", 7),
        ("support_rating", 6, "support_satisfaction", 4),
        ("support_rating", 5, "support_satisfaction", 4),
        ("support_rating", 4, "support_satisfaction", 0),
        ("communication_frequency", "weekly", "communication_frequency", 10),
        ("communication_frequency", "monthly", "communication_frequency", 7),
        ("communication_frequency", "quarterly", "communication_frequency", 4),
        ("communication_frequency", "never", "communication_frequency", 0),
        ("expansion_interest", "active", "expansion_interest", 10),
        ("expansion_interest", "interested", "expansion_interest", 7),
        ("expansion_interest", "neutral", "expansion_interest", 4),
        ("expansion_interest", "Not interested", "expansion_interest", 0),
    ],
)
def test_seed004_point_tables(models, metric, value, component, points):
    assert score_metrics(models["seed004"], {metric: value}).points[component] == points


def test_performance_bonuses_add_up(models):
    r = score_metrics(models["seed004"], {**FULL, "click_rate_pct": 6})
    assert r.points["performance_metrics"] == 10 and r.score == 95


def test_partial_metrics_rescale_and_say_so(models):
    m = models["seed004"]
    r = score_metrics(
        m,
        {
            "login_frequency": "weekly",
            "roi_pct": 250,
            "open_rate_pct": 30,
            "support_rating": None,
            "open_tickets": 3,
        },
    )  # null = missing; trigger metric ok
    assert r.partial and r.available_points == 30 and r.score == round(17 / 30 * 100, 1)
    assert r.used == ["login_frequency", "roi_pct", "open_rate_pct"]
    assert "support_rating" in r.missing and "open_tickets" not in r.missing + r.used
    assert "partial" in r.note and "17 of 30" in r.note
    top = score_metrics(m, {"roi_pct": 300})
    assert (top.score, top.band, top.partial) == (100, "healthy", True)
    assert not score_metrics(m, FULL).partial


@pytest.mark.parametrize("bad", [-1, -0.1, 100.1, 250, "50", None, True, math.nan])
def test_scores_outside_0_100_are_rejected(models, bad):
    with pytest.raises(ValueError, match="score must be a number from 0 to 100"):
        check_score(bad)
    with pytest.raises(ValueError):
        band_for(models["seed004"], bad)


@pytest.mark.parametrize(
    "metrics,message",
    [
        ({"roi_pct": 300, "nps": 9, "foo": 1}, "unknown metrics: foo, nps"),
        ({}, "no scoring metrics given"),
        ({"open_tickets": 3}, "no scoring metrics given"),
        ({"roi_pct": "lots"}, "metric 'roi_pct' must be a number"),
        ({"roi_pct": math.inf}, "metric 'roi_pct' must be a number"),
        ({"login_frequency": "hourly"}, "metric 'login_frequency' must be one of daily, weekly"),
    ],
)
def test_bad_metrics(models, metrics, message):
    with pytest.raises(ValueError, match=message):
        score_metrics(models["seed004"], metrics)


def test_scaled_metric_out_of_range(models):
    with pytest.raises(ValueError, match="metric 'usage_score' must be from 0 to 100"):
        score_metrics(models["seed000"], {"usage_score": 120})


def _bad_file(tmp_path, *edits):
    text = (MODELS / "seed004.yaml").read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(DefinitionError) as err:
        load_scoring_model(path)
    return text, [str(i) for i in err.value.issues]


def _at(text, needle, path="bad.yaml"):  # "bad.yaml:line:col" of needle's first occurrence
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)
    return f"{path}:{line}:{text.splitlines()[line - 1].index(needle) + 1}"


@pytest.mark.parametrize(
    "edits,needle,message",
    [
        (
            [("max_points: 15\n        rules", "max_points: 10\n        rules")],
            "max_points: 40",
            "group 'results' has max_points 40 but its components' max_points add up to 35",
        ),
        (
            [
                (
                    'name: results                        # "Results (40 puntos)"\n    max_points: 40',
                    "name: results\n    max_points: 35",
                ),
                ("max_points: 15\n        rules", "max_points: 10\n        rules"),
            ],
            "groups:",
            "groups' max_points add up to 95, expected 100",
        ),
        (
            [("{name: critical, min: 0, max: 59", "{name: critical, min: 0, max: 58")],
            "min: 60",
            "gap between bands 'critical' (max 58) and 'at_risk' (min 60): 59..59 not covered",
        ),
        (
            [("{name: at_risk, min: 60", "{name: at_risk, min: 59")],
            "min: 59",
            "bands 'critical' (0-59) and 'at_risk' (59-79) overlap",
        ),
        (
            [("{name: healthy, min: 80, max: 100", "{name: healthy, min: 80, max: 99")],
            "max: 99",
            "bands must end at 100",
        ),
        (
            [("critical_bands: [critical]", "critical_bands: [criticall]")],
            "criticall",
            "unknown band 'criticall' (bands: at_risk, critical, healthy)",
        ),
        (
            [('{op: ">=", value: 300, points: 15}', '{op: ">=", value: 300, points: 12}')],
            "max_points: 15",
            "component 'roi_achievement': best case gives 12 points but max_points is 15",
        ),
        (
            [('{op: ">=", value: 200, points: 10}', '{op: ">=", value: 400, points: 10}')],
            "value: 400",
            "row 1 (>= 400) is never reached after >= 300",
        ),
        (
            [("metric: click_rate_pct", "metric: open_rate_pct")],
            'metric: open_rate_pct, op: ">", value: 6',
            "metric 'open_rate_pct' is already scored by another component",
        ),
        ([("kind: bonuses", "kind: bonus")], "kind: bonus", "unknown kind 'bonus'"),
        ([("otherwise: 0", "otherwse: 0")], "otherwse", "unknown field"),
        (
            [("warning: 5, critical: 10", "warning: 10, critical: 5")],
            "support_tickets",
            "critical (5) must be above warning (10)",
        ),
    ],
)
def test_bad_model_files_name_field_and_position(tmp_path, edits, needle, message):
    text, issues = _bad_file(tmp_path, *edits)
    match = [i for i in issues if message in i]
    assert match, issues
    assert match[0].startswith(str(tmp_path / "bad.yaml") + ":")
    assert match[0].split("bad.yaml:")[1].startswith(_at(text, needle).split("bad.yaml:")[1])


def test_semantic_issues_name_the_field(tmp_path):
    _, issues = _bad_file(tmp_path, ("max_points: 15\n        rules", "max_points: 10\n        rules"))
    assert any("field 'groups.1.max_points': group 'results'" in i for i in issues), issues


def test_all_problems_reported_at_once(tmp_path):
    _, issues = _bad_file(
        tmp_path,
        ("{name: critical, min: 0, max: 59", "{name: critical, min: 0, max: 58"),
        ("critical_bands: [critical]", "critical_bands: [nope]"),
        ("max_points: 15\n        rules", "max_points: 10\n        rules"),
    )
    assert len(issues) == 4  # gap, unknown band, group sum, total sum


@pytest.mark.parametrize(
    "text,message",
    [
        ("name: x\ngroups: [\n", "invalid YAML"),
        ("- just a list\n", "must be a mapping"),
        ("groups: []\nbands: []\n", "field 'name' is required"),
    ],
)
def test_unparseable_or_wrong_shape(tmp_path, text, message):
    (tmp_path / "m.yaml").write_text(text)
    with pytest.raises(DefinitionError, match=message):
        load_scoring_model(tmp_path / "m.yaml")


def test_model_built_in_code_validates_too(models):
    data = models["seed004"].model_dump()
    data["bands"][0]["min"] = 81
    with pytest.raises(ValidationError, match=r"bands\.0\.min: gap between bands 'at_risk'"):
        ScoringModel.model_validate(data)


def test_default_model_path(monkeypatch, tmp_path):
    monkeypatch.delenv("PLAYBOOKS_DIR", raising=False)
    assert Settings().scoring_model_path == MODELS / "seed004.yaml"
    assert load_scoring_model(Settings().scoring_model_path).name == "seed004"
    monkeypatch.setenv("PLAYBOOKS_DIR", str(tmp_path))
    assert Settings().scoring_model_path == tmp_path / "scoring" / "seed004.yaml"


def test_models_survive_json_round_trip(models):  # Temporal's pydantic converter
    for m in models.values():
        assert ScoringModel.model_validate_json(m.model_dump_json()) == m


def test_make_observation(models):
    at = datetime(2024, 6, 1, tzinfo=UTC)
    o = make_observation(models["seed004"], at, FULL)
    assert (o.score, o.band, o.band_rank) == (100, "healthy", 3)
    o = make_observation(models["seed004"], at, {"open_tickets": 12}, score=59)
    assert (o.band, o.band_rank, o.metrics) == ("critical", 1, {"open_tickets": 12})
    with pytest.raises(ValueError, match="unknown metrics: bogus"):
        make_observation(models["seed004"], at, {"bogus": 1}, score=50)
