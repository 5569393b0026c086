"""Bad input to the journey API (csrunner.services.journeys): each a clear ValueError naming the field,
and nothing sent (a client whose every call fails proves no RPC was even attempted)."""

from __future__ import annotations

from datetime import datetime

import pytest
from journey_support import ACCOUNT

from csrunner.config.settings import Settings
from csrunner.services import journeys


class NoCalls:
    """Stands in for the Temporal client: any use of it fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"something was sent: client.{name}")


SETTINGS = Settings()
CLIENT = NoCalls()


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(score=101), "score: score must be a number from 0 to 100, got 101"),
        (dict(score=-0.5), "score: score must be a number from 0 to 100, got -0.5"),
        (dict(score=float("nan")), "score: score must be a number from 0 to 100, got nan"),
        (dict(score="80"), "score: score must be a number from 0 to 100, got '80'"),
        (dict(score=True), "score: score must be a number from 0 to 100, got True"),
        (dict(), "give 'score' (0-100), 'metrics' (a mapping of metric values) or 'facts' (account facts)"),
        (dict(score=80, metrics={"roi_pct": 250}), "give one of 'score' (0-100) or 'metrics'"),
        (
            dict(facts={"revenue_genrated": 5}),
            "facts.revenue_genrated: unknown fact 'revenue_genrated'; did you mean 'revenue_generated'?",
        ),
        (dict(score=80, facts={"roi_percent": "lots"}), "facts.roi_percent: percent must be a number, got"),
        (dict(facts={"contract_end": "31/03/2027"}), "facts.contract_end: date must be a date YYYY-MM-DD"),
        (dict(facts={"open_issues": "one"}), "facts.open_issues: list must be a list of at most 10 texts"),
        (dict(facts={"revenue_generated": -1}), "facts.revenue_generated: money must be in 0.., got -1"),
        (dict(facts={}), "facts must be a non-empty mapping of fact name to value"),
        (dict(metrics={}), "metrics must be a non-empty mapping"),
        (dict(metrics=[("roi_pct", 250)]), "metrics must be a non-empty mapping"),
        (
            dict(metrics={"roi": 250}),
            "metrics: unknown metrics: roi (model 'seed004' scores: login_frequency",
        ),
        (dict(metrics={"roi_pct": 250, "happiness": 3}), "metrics: unknown metrics: happiness"),
        (
            dict(metrics={"login_frequency": "hourly"}),
            "metrics: metric 'login_frequency' must be one of daily, weekly, monthly, never; got 'hourly'",
        ),
        (dict(metrics={"roi_pct": "lots"}), "metrics: metric 'roi_pct' must be a number, got 'lots'"),
        (dict(metrics={"roi_pct": float("inf")}), "metrics: values must be finite numbers or categories"),
        (dict(metrics={"open_tickets": 12}), "metrics: no scoring metrics given; model 'seed004' scores"),
        (dict(score=80, at=datetime(2026, 1, 1)), "at must be a timezone-aware datetime"),
        (dict(score=80, at="yesterday"), "at must be a timezone-aware datetime, got 'yesterday'"),
        (dict(score=80, source="x" * 201), "source must be a string of at most 200 characters"),
    ],
)
async def test_push_score_rejects(kwargs, message):
    with pytest.raises(ValueError) as err:
        await journeys.push_score(CLIENT, SETTINGS, "acme", **kwargs)
    assert message in str(err.value)


@pytest.mark.parametrize("account_id", ["", "-acme", "acme corp", "a" * 101, None, 42, "acme/1"])
async def test_account_ids_are_checked(account_id):
    with pytest.raises(ValueError, match="account_id must be 1-100 letters, digits"):
        await journeys.push_score(CLIENT, SETTINGS, account_id, score=80)
    with pytest.raises(ValueError, match="account_id must be"):
        await journeys.push_nps(CLIENT, SETTINGS, account_id, 9)
    with pytest.raises(ValueError, match="account_id must be"):
        await journeys.push_expansion_signal(CLIENT, SETTINGS, account_id, "team_growth")
    with pytest.raises(ValueError, match="account_id must be"):
        await journeys.journey_view(CLIENT, account_id)


@pytest.mark.parametrize("score", [-1, 11, 7.5, True, "9", None])
async def test_push_nps_rejects(score):
    with pytest.raises(ValueError, match=r"score must be a whole number from 0 to 10 \(NPS\), got"):
        await journeys.push_nps(CLIENT, SETTINGS, "acme", score)


async def test_push_nps_rejects_comment_and_time():
    with pytest.raises(ValueError, match="comment must be a string of at most 2000 characters"):
        await journeys.push_nps(CLIENT, SETTINGS, "acme", 9, "x" * 2001)
    with pytest.raises(ValueError, match="at must be a timezone-aware datetime"):
        await journeys.push_nps(CLIENT, SETTINGS, "acme", 9, at=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "signal,detail,message",
    [
        ("", "", "signal must be a non-empty string"),
        ("   ", "", "signal must be a non-empty string"),
        ("x" * 201, "", "signal must be a non-empty string of at most 200 characters"),
        (None, "", "signal must be a non-empty string"),
        ("team_growth", "x" * 2001, "detail must be a string of at most 2000 characters"),
        (
            "foo_bar",
            "",
            "signal must be one of high_usage, positive_roi, team_growth, new_initiative, budget_approved",
        ),
    ],
)
async def test_push_expansion_signal_rejects(signal, detail, message):
    with pytest.raises(ValueError, match=message):
        await journeys.push_expansion_signal(CLIENT, SETTINGS, "acme", signal, detail)


@pytest.mark.parametrize(
    "account,deal_id,closed_at,message",
    [
        ({"id": "acme"}, "d1", None, "account: 3 validation errors"),
        ("acme", "d1", None, "account must be an Account, got str"),
        (ACCOUNT, "", None, "deal_id must be a non-empty string"),
        (ACCOUNT, None, None, "deal_id must be a non-empty string"),
        (ACCOUNT, "d" * 201, None, "deal_id must be a non-empty string of at most 200 characters"),
        (ACCOUNT, "d1", datetime(2026, 1, 1), "closed_at must be a timezone-aware datetime"),
    ],
)
async def test_deal_closed_rejects(account, deal_id, closed_at, message):
    with pytest.raises(ValueError, match=message):
        await journeys.deal_closed(CLIENT, SETTINGS, account, deal_id, closed_at)


def test_csv_import_reports_every_bad_line_and_sends_nothing(tmp_path):
    text = (
        "account_id,score,roi_pct,login_frequency,at\n"
        "acme,85,,,\n"
        "acme,120,,,\n"
        "bad id,80,,,\n"
        "globex,,250,daily,\n"
        "globex,,250,hourly,\n"
        "initech,70,250,,\n"
        "hooli,,,,\n"
        "umbrella,60,,,not-a-time\n"
    )
    with pytest.raises(ValueError) as err:
        journeys.read_scores_csv(SETTINGS, "scores.csv", text)
    assert str(err.value).splitlines() == [
        "scores.csv:3: score: score must be a number from 0 to 100, got 120.0",
        "scores.csv:4: account_id must be 1-100 letters, digits, '.', '_' or '-', starting with a "
        "letter or digit; got 'bad id'",
        "scores.csv:6: metrics: metric 'login_frequency' must be one of daily, weekly, monthly, never; "
        "got 'hourly'",
        "scores.csv:7: give one of 'score' (0-100) or 'metrics' (a mapping of metric values), not both",
        "scores.csv:8: give 'score' (0-100), 'metrics' (a mapping of metric values) or 'facts' (account facts)",
        "scores.csv:9: at must be an ISO-8601 time, got 'not-a-time'",
    ]
    with pytest.raises(ValueError, match="the header must have an 'account_id' column"):
        journeys.read_scores_csv(SETTINGS, "x.csv", "account,score\nacme,80\n")


def test_csv_rows_parse():
    rows = journeys.read_scores_csv(
        SETTINGS,
        "ok.csv",
        "account_id,score,source\nacme,85,crm\naccount_id_is_a_header_only_once,,\n".replace(
            "account_id_is_a_header_only_once,,\n", "globex,59.5,\n"
        ),
    )
    assert [(r.line, r.account_id, r.update.score, r.update.source) for r in rows] == [
        (2, "acme", 85.0, "crm"),
        (3, "globex", 59.5, "csv import"),
    ]
    rows = journeys.read_scores_csv(
        SETTINGS, "m.csv", "account_id,roi_pct,login_frequency,at\nacme,250,daily,2026-05-01T08:00:00+00:00\n"
    )
    assert rows[0].update.metrics == {"roi_pct": 250, "login_frequency": "daily"}
    assert rows[0].update.at.isoformat() == "2026-05-01T08:00:00+00:00"


def test_csv_fact_columns_are_checked_per_line():
    text = (
        "account_id,score,revenue_generated,contract_end\n"
        'acme,85,"48,200",2027-03-31\n'
        "acme,85,lots,\n"
        "acme,,,2027-02-30\n"
    )
    with pytest.raises(ValueError) as err:
        journeys.read_scores_csv(SETTINGS, "facts.csv", text)
    assert str(err.value).splitlines() == [
        "facts.csv:3: facts.revenue_generated: money must be a number, got 'lots'",
        "facts.csv:4: facts.contract_end: date must be a date YYYY-MM-DD, got '2027-02-30'",
    ]
    rows = journeys.read_scores_csv(SETTINGS, "ok.csv", text.split("acme,85,lots")[0])
    assert (rows[0].update.score, rows[0].update.facts) == (
        85,
        {"revenue_generated": 48200, "contract_end": "2027-03-31"},
    )


async def test_deal_closed_checks_the_account_facts():
    acc = ACCOUNT.model_copy(update={"facts": {"tier": "Gold", "renewal": "2027-01-01"}})
    with pytest.raises(ValueError) as err:
        await journeys.deal_closed(CLIENT, SETTINGS, acc, "deal-1")
    assert str(err.value).startswith("facts.renewal: unknown fact 'renewal' (declared in")
