"""180 days of one customer (issue 3), on the time-skipping server."""
from __future__ import annotations

import time

from csrunner import journeys
from worker import build_worker

from test_journey_support import ACCOUNT, Clock, csm_pass, lifecycle_records, settings_for

# Day 80's metrics: seed 004 rubric = 30 + 32 + 24 = 86 (healthy), with measurable ROI (250%).
RECOVERED = dict(login_frequency="daily", feature_usage_pct=85, campaigns_per_month=5, roi_pct=250,
                 open_rate_pct=35, click_rate_pct=7, conversion_rate_pct=12, revenue_increase_pct=15,
                 support_rating=9, communication_frequency="monthly", expansion_interest="interested")


async def test_180_days_of_a_customer(env, tmp_path):
    started = time.monotonic()
    settings = settings_for(tmp_path)
    client, clock = env.client, Clock(env)
    acc = ACCOUNT.id
    # What happens, by lifecycle day (10:00 UTC); the CSM answers what is pending every day at 12:00,
    # except what `leave` holds back on that day.
    script = {
        20: lambda: journeys.push_score(client, settings, acc, score=85, source="nightly feed"),
        45: lambda: journeys.push_nps(client, settings, acc, 5, "Results are slower than we hoped"),
        60: lambda: journeys.push_score(client, settings, acc, score=45, source="nightly feed"),
        70: lambda: journeys.push_score(client, settings, acc, score=72, source="nightly feed"),
        80: lambda: journeys.push_score(client, settings, acc, metrics=RECOVERED, source="analytics"),
        90: lambda: journeys.push_nps(client, settings, acc, 10, "Great ROI"),
        100: lambda: journeys.push_expansion_signal(client, settings, acc, "team_growth",
                                                    "Their marketing team doubled"),
    }
    leave = {60: {"urgent-approval"}, 63: {"checkin-day3"}}
    async with build_worker(client, settings):
        await clock.start()
        wid, new = await journeys.deal_closed(client, settings, ACCOUNT, "deal-9001")
        assert (wid, new) == ("journey:acme", True)
        assert await journeys.deal_closed(client, settings, ACCOUNT, "deal-9001") == (wid, False)
        for day in range(0, 181):
            if day in script:
                await clock.to(day, 10)
                await script[day]()
            await clock.to(day, 12)
            await csm_pass(env, client, acc, leave.get(day, set()))
        records = await lifecycle_records(client, clock, acc)
        view = await journeys.journey_view(client, acc)
    print("\n".join(records))
    print("\n".join(f"{e.day:>3} {e.kind}: {e.text}" for e in view.timeline))
    print(time.monotonic() - started)
    import subprocess; print(subprocess.run(["find", str(tmp_path / "outbox")], capture_output=True, text=True).stdout)
    for f in sorted((tmp_path / "outbox" / "slack").glob("*.md")): print(f.name, f.read_text()[:600])
