"""Fault injection, bounded (the full size is `python bench/faults.py`): 20 fast onboardings on 3
`csr worker` processes while 4 random workers are SIGKILLed and restarted, the dev server is
SIGKILLed and restarted on its database file, SendGrid answers 429s then 500s for 12 s, one
recipient answers 400 and Slack one 429 with Retry-After. Every run completes, every email reaches
SendGrid exactly once (the refused one becomes one CSM task), every task exists once, every Slack
message arrives, and the Slack retry came no earlier than Retry-After."""

from __future__ import annotations

import pytest
from fault_injection import FaultPlan, run_faults

pytestmark = pytest.mark.asyncio

BOUNDED = FaultPlan(
    runs=20,
    workers=3,
    kills=4,
    server_restart_at=0.25,
    server_down_for=2.0,
    sendgrid_faults_at=0.05,
    rate_limited=3,
    outage_seconds=12.0,
    slack_retry_after=3,
    timeout=240.0,
)


async def test_kills_restarts_and_provider_outages_lose_nothing_and_send_nothing_twice(tmp_path):
    run = await run_faults(BOUNDED, tmp_path, progress=print)
    print(run.table())
    assert run.problems == []
    t = run.tally
    assert (t.runs_completed, t.emails_expected, t.fix_tasks) == (20, 20 * 4 - 1, 1)
    assert (t.emails_lost, t.emails_duplicated, t.tasks_twice) == (0, 0, 0)
    assert t.emails_once + t.unknown_to_task >= t.emails_expected  # sent once, or a check task says so
    assert (run.kills, run.server_restarts) == (4, 1)
    assert t.sg_429 == 3 and t.sg_500 > 0 and t.slack_429 == 1
