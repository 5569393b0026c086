"""180 days of one customer (issue 3), on the time-skipping server.

Day 0 the deal closes: onboarding (days 0-7) hands over to scaling (days 8-14), and the journey
holds the NPS survey: its play starts on day 45 (emails on days 45 and 90). Day 20 the first health score (85, healthy) starts the healthy play.
Day 45 the NPS answer is 5: the recovery play (manager told at once, a CSM call within a day).
Day 60 the score falls to 45, critical: an alert naming its triggers, the executive told at once,
daily check-ins for 7 days, and the URGENT email held for the CSM's approval, which nobody gives:
12 h later the manager is escalated to, 24 h later the executive; the CSM approves on day 61 and
only then does URGENT go out. On day 63 the CSM misses a check-in: the manager is told the next
day, and completing it stops the climb. Day 70 the score is 72 (at risk), day 80 metrics score 86:
the at-risk play is preempted and the healthy play starts again. Day 90 the NPS answer is 10 with
a measured ROI of 250%: the referral / case-study ask. Day 100 an expansion signal: the 4-week
expansion play. Then nothing until day 180.

A CSM answers what is pending every day at 12:00 UTC (except what the story holds back); events
arrive at 10:00 UTC; the account's timezone is UTC, so steps due "at 09:00 on day N" are day N.
"""

from __future__ import annotations

import time
from datetime import timedelta
from email import policy
from email.parser import BytesParser

from journey_support import ACCOUNT, Clock, csm_pass, journey_worker, lifecycle_records, settings_for
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from csrunner.services import journeys
from workflows.journey import AccountJourneyWorkflow

# Day 80's metrics: seed 004 rubric = 30 + 32 + 24 = 86 (healthy), with measurable ROI (250%).
RECOVERED = dict(
    login_frequency="daily",
    feature_usage_pct=85,
    campaigns_per_month=5,
    roi_pct=250,
    open_rate_pct=35,
    click_rate_pct=7,
    conversion_rate_pct=12,
    revenue_increase_pct=15,
    support_rating=9,
    communication_frequency="monthly",
    expansion_interest="interested",
)

# Every message, task, approval, escalation and preemption of every play, by lifecycle day
# ("completed" by the CSM is left out: every task here is completed the day it is created,
# except checkin-day3, completed on day 64 after its escalation).
PLAYS = """
  0 onboarding/1 day0-slack-csm sent
  0 onboarding/1 day0-welcome sent
  0 onboarding/1 day0-kickoff created
  1 onboarding/1 day1-data-email sent
  1 onboarding/1 day1-data-task created
  2 onboarding/1 day2-segments-email sent
  2 onboarding/1 day2-segments-task created
  3 onboarding/1 day3-branding-email sent
  3 onboarding/1 day3-branding-task created
  4 onboarding/1 day4-pilot-task created
  4 onboarding/1 day4-approve requested
  4 onboarding/1 day4-approve approved maria
  4 onboarding/1 day4-pilot-review sent
  5 onboarding/1 day5-send-task created
  6 onboarding/1 day6-analysis-task created
  7 onboarding/1 day7-recap sent
  7 onboarding/1 day7-first-value created
  8 onboarding/1 day8-scaling handed_over scaling
  8 onboarding/1 scale-segments-email sent
  8 onboarding/1 scale-segments-task created
 10 onboarding/1 scale-automations-email sent
 10 onboarding/1 scale-automations-task created
 12 onboarding/1 scale-dashboard-email sent
 12 onboarding/1 scale-dashboard-task created
 13 onboarding/1 scale-training-email sent
 13 onboarding/1 scale-training-task created
 14 onboarding/1 scale-ttv-recap sent
 14 onboarding/1 scale-ttv-escalation not_applicable
 14 onboarding/1 scale-ttv-at-risk not_applicable
 20 retention-healthy/1 results-email sent
 20 retention-healthy/1 mbr created
 20 retention-healthy/1 referral-ask not_applicable
 27 retention-healthy/1 feature-updates created
 34 retention-healthy/1 expansion-check created
 41 retention-healthy/1 monthly-checklist created
 45 nps/1 survey-day45 sent
 45 nps-recovery/1 manager-informed sent
 45 nps-recovery/1 recovery-call created
 45 nps-recovery/1 followup-email sent
 52 nps-recovery/1 recovery-check created
 60 retention-critical/1 executive-escalation sent
 60 retention-critical/1 checkin-day0 created
 60 retention-critical/1 success-plan created
 60 retention-critical/1 urgent-approval requested
 60 retention-critical/1 urgent-approval escalated manager
 61 retention-critical/1 urgent-approval escalated executive
 61 retention-critical/1 urgent-approval approved maria
 61 retention-critical/1 urgent-email sent
 61 retention-critical/1 checkin-day1 created
 62 retention-critical/1 checkin-day2 created
 63 retention-critical/1 checkin-day3 created
 64 retention-critical/1 checkin-day4 created
 64 retention-critical/1 checkin-day3 escalated manager
 65 retention-critical/1 checkin-day5 created
 66 retention-critical/1 checkin-day6 created
 70 retention-at-risk/1 usage-analysis created
 70 retention-at-risk/1 optimize-approval requested
 70 retention-at-risk/1 optimize-approval approved maria
 70 retention-at-risk/1 optimize-email sent
 72 retention-at-risk/1 health-check-1 created
 74 retention-at-risk/1 extra-training created
 77 retention-at-risk/1 success-plan-review created
 79 retention-at-risk/1 health-check-2 created
 80 retention-at-risk/1 manager-escalation preempted
 80 retention-healthy/2 results-email sent
 80 retention-healthy/2 mbr created
 80 retention-healthy/2 referral-ask not_applicable
 87 retention-healthy/2 feature-updates created
 90 nps/1 survey-day90 sent
 94 retention-healthy/2 expansion-check created
100 expansion/1 expansion-kickoff sent
100 expansion/1 week1-identification created
101 retention-healthy/2 monthly-checklist created
107 expansion/1 discovery-approval requested
107 expansion/1 discovery-approval approved maria
107 expansion/1 discovery-email sent
107 expansion/1 week2-qualification created
114 expansion/1 week3-presentation created
121 expansion/1 week4-close created
127 expansion/1 celebration sent
"""

# The journey's own timeline: what it received, decided and sent itself.
JOURNEY = """
  0 deal_closed: deal deal-9001 closed: lifecycle started
  0 play_started: onboarding started: deal deal-9001 closed
  0 play_scheduled: NPS survey scheduled for {day45}, 09:00 UTC (lifecycle day 45): nps starts then
 14 play_completed: onboarding completed
 20 score: score 85 (healthy)
 20 play_started: retention-healthy started: band healthy
 41 play_completed: retention-healthy completed
 45 play_started: nps started: NPS survey on lifecycle days 45 and 90
 45 nps: NPS 5 (detractor); account NPS -100
 45 play_started: nps-recovery started: NPS detractor (0-6)
 52 play_completed: nps-recovery completed
 60 score: score 45 (critical, was healthy)
 60 alert: critical alert to csm, manager: band_drop (critical): band fell from healthy to critical (score 85 → 45); health_below (warning): health score 45 is below 50
 60 play_started: retention-critical started: band critical
 66 play_completed: retention-critical completed
 70 score: score 72 (at_risk, was critical)
 70 play_started: retention-at-risk started: band at_risk
 80 score: score 86 (healthy, was at_risk)
 80 play_preempted: retention-at-risk preempted: band healthy; the score rose, so retention-at-risk ends (escalation closed)
 80 play_started: retention-healthy started: band healthy; the score rose, so retention-at-risk ends (escalation closed)
 90 play_completed: nps completed
 90 nps: NPS 10 (promoter); account NPS 0
 90 email: referral / case-study ask sent to ana@acme.example: promoter (10) with ROI 250%
 90 slack: promoter: CSM told about the referral ask
100 expansion_signal: expansion signal 'team_growth': Their marketing team doubled
100 play_started: expansion started: healthy (healthy) with an expansion signal
101 play_completed: retention-healthy completed
127 play_completed: expansion completed
"""


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def outbox(tmp_path, kind: str) -> dict[str, str]:
    """Outbox files by idempotency key (journey:acme/<play>/<n>/<playbook>/<step> → readable)."""
    out = {}
    for f in sorted((tmp_path / "outbox" / kind).iterdir()):
        if kind == "email":
            out[f.stem] = BytesParser(policy=policy.default).parse(f.open("rb"))["subject"]
        else:
            out[f.stem] = f.read_text()
    return out


async def test_180_days_of_a_customer(env, tmp_path):
    began = time.monotonic()
    settings = settings_for(tmp_path)
    client, clock, acc = env.client, Clock(env), ACCOUNT.id
    story = {
        20: lambda: journeys.push_score(client, settings, acc, score=85, source="nightly feed"),
        45: lambda: journeys.push_nps(client, settings, acc, 5, "Results are slower than we hoped"),
        60: lambda: journeys.push_score(client, settings, acc, score=45, source="nightly feed"),
        70: lambda: journeys.push_score(client, settings, acc, score=72, source="nightly feed"),
        80: lambda: journeys.push_score(client, settings, acc, metrics=RECOVERED, source="analytics"),
        90: lambda: journeys.push_nps(client, settings, acc, 10, "Great ROI"),
        100: lambda: journeys.push_expansion_signal(
            client, settings, acc, "team_growth", "Their marketing team doubled"
        ),
    }
    held_back = {60: {"urgent-approval"}, 63: {"checkin-day3"}}
    async with journey_worker(client, settings, acc):
        await clock.start()  # day 0, 00:30 UTC
        assert await journeys.deal_closed(client, settings, ACCOUNT, "deal-9001") == ("journey:acme", True)
        assert await journeys.deal_closed(client, settings, ACCOUNT, "deal-9001") == ("journey:acme", False)
        for day in range(0, 181):
            if day in story:
                await clock.to(day, 10)
                await story[day]()
            await clock.to(day, 12)
            await csm_pass(env, client, acc, held_back.get(day, set()))
        records = await lifecycle_records(client, clock, acc)
        completed = await lifecycle_records(client, clock, acc, skip=())
        view = await journeys.journey_view(client, acc)
        history = await client.get_workflow_handle("journey:acme").fetch_history()
    # the recorded history replays on today's code (determinism check)
    await Replayer(
        workflows=[AccountJourneyWorkflow], data_converter=pydantic_data_converter
    ).replay_workflow(history)
    print(f"\n180 days in {time.monotonic() - began:.1f} s wall time")

    assert records == lines(PLAYS)
    day45 = f"{clock.base + timedelta(days=45):%a %d %b %Y}"  # the journey holds the survey until then
    assert [f"{e.day:>3} {e.kind}: {e.text}" for e in view.timeline] == lines(JOURNEY.format(day45=day45))
    # acknowledging stops the climb: the missed check-in reached the manager, never the executive
    assert [r for r in completed if "checkin-day3" in r] == [
        " 63 retention-critical/1 checkin-day3 created",
        " 64 retention-critical/1 checkin-day3 escalated manager",
        " 64 retention-critical/1 checkin-day3 completed maria",
    ]

    # the journey at day 180 (its clock last moved on day 127, when the expansion play ended)
    assert (view.phase, view.lifecycle_day, view.band, view.score) == ("lifecycle", 127, "healthy", 86.0)
    assert [(n.day, n.score, n.category) for n in view.nps] == [(45, 5, "detractor"), (90, 10, "promoter")]
    assert view.account_nps == 0.0  # 1 promoter, 1 detractor
    assert (view.updates, view.alerts, view.plays_started, view.active) == (4, 1, 8, {})
    assert [(p.workflow_id, p.status) for p in view.plays] == [
        ("journey:acme/onboarding/1", "completed"),
        ("journey:acme/retention-healthy/1", "completed"),
        ("journey:acme/nps/1", "completed"),
        ("journey:acme/nps-recovery/1", "completed"),
        ("journey:acme/retention-critical/1", "completed"),
        ("journey:acme/retention-at-risk/1", "preempted"),
        ("journey:acme/retention-healthy/2", "completed"),
        ("journey:acme/expansion/1", "completed"),
    ]

    # what the customer received: the seed's subjects, each email once
    emails = outbox(tmp_path, "email")
    play_emails = {k.removeprefix("journey_acme_"): v for k, v in emails.items() if "onboarding" not in k}
    assert play_emails == {
        "retention-healthy_1_retention-healthy_results-email": "🎉 Acme Retail - Outstanding Results This Month!",
        "nps_1_nps_survey-day45": "Acme Retail: one quick question (10 seconds)",
        "nps-recovery_1_nps-recovery_followup-email": "Acme Retail: thank you for your honest feedback",
        "retention-critical_1_retention-critical_urgent-email": "🚨 URGENT: Let's Save Your AI Email Success",
        "retention-at-risk_1_retention-at-risk_optimize-email": "🤔 Let's Optimize Your AI Email Performance",
        "retention-healthy_2_retention-healthy_results-email": "🎉 Acme Retail - Outstanding Results This Month!",
        "nps_1_nps_survey-day90": "Acme Retail: one quick question (10 seconds)",
        "referral-email_1": "🎉 Acme Retail: would you share your success story?",
        "expansion_1_expansion_discovery-email": "🚀 Acme Retail - Ready for the Next Level?",
    }
    assert len(emails) == len(play_emails) + 11  # + onboarding's 6 and scaling's 5

    # what the team received: each trigger named, each rung of the ladder to the right person
    slack = outbox(tmp_path, "slack")
    for role, user in (("csm", "U01MARIA"), ("manager", "U01CARLOS")):
        alert = slack[f"journey_acme_alert_2_{role}"]
        assert alert.startswith(
            f"To: {user}\n\n:rotating_light: *Health alert (critical) - Acme Retail*: "
            "score 45/100, critical (was healthy), lifecycle day 60, from nightly feed"
        )
        assert "• `band_drop` (critical): band fell from healthy to critical (score 85 → 45)" in alert
        assert "• `health_below` (warning): health score 45 is below 50" in alert
    exec_now = slack["journey_acme_retention-critical_1_retention-critical_executive-escalation"]
    assert (
        exec_now.startswith(
            "To: U01ELENA\n\n:sos: *Executive escalation - Acme Retail is critical* (health score 45/100)"
        )
        and "`band_drop` (critical)" in exec_now
    )
    ladder = {
        k.rsplit("_", 2)[-2:][-1]: v.splitlines()[0]
        for k, v in slack.items()
        if "urgent-approval_escalate" in k
    }
    assert ladder == {"1": "To: U01CARLOS", "2": "To: U01ELENA"}
    assert (
        "unanswered for 24 h"
        in slack["journey_acme_retention-critical_1_retention-critical_urgent-approval_escalate_2"]
    )
    assert slack["journey_acme_nps-recovery_1_nps-recovery_manager-informed"].startswith(
        'To: U01CARLOS\n\n:warning: *NPS detractor - Acme Retail* answered 5/10: "Results are slower than we hoped"'
    )
    assert slack["journey_acme_referral-slack_1"].startswith(
        "To: U01MARIA\n\n:star2: *Promoter - Acme Retail*"
    )
