"""When each step is due, in the account's local time. An activity because reading the
timezone database is I/O; its answer is recorded in history, so replay never re-reads it. Async:
`ZoneInfo` reads a zone's small file once per process and caches it, so the event loop is not held
and no thread hand-off is paid per play start."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from temporalio import activity

from csrunner.domain.messages import Schedule, ScheduleRequest


def plan(req: ScheduleRequest) -> Schedule:
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
        out[step_id] = due.astimezone(UTC)
    day0 = datetime.combine(start.date(), time(0, 0), tzinfo=zone)
    return Schedule(day0=day0.astimezone(UTC), steps=out)


@activity.defn
async def plan_schedule(req: ScheduleRequest) -> Schedule:
    return plan(req)
