"""When each step is due, in the account's local time. An activity because reading the
timezone database is I/O; its answer is recorded in history, so replay never re-reads it."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from temporalio import activity

from csrunner.messages import ScheduleRequest


def plan(req: ScheduleRequest) -> dict[str, datetime]:
    zone = ZoneInfo(req.timezone)
    start = req.start.astimezone(zone)
    out = {}
    for step_id, day, at in req.steps:
        if day == 0 and at is None:
            due = start  # day-0 steps without a time happen at once
        else:
            hh, mm = map(int, (at or req.default_time).split(":"))
            local = datetime.combine(start.date() + timedelta(days=day), time(hh, mm), tzinfo=zone)
            due = max(local, start)  # a time already past today means: now
        out[step_id] = due.astimezone(timezone.utc)
    return out


@activity.defn
def plan_schedule(req: ScheduleRequest) -> dict[str, datetime]:
    return plan(req)
