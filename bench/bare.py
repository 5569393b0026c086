"""Bare Temporal for the benchmarks: workflows that do the same number of workflow starts, signals,
updates, activities and local activities as ours did for the same work, counted from our histories
in the same run (`calls`), and nothing else. Each activity is an empty one: the difference between
ours and bare is what our code costs on top of Temporal's own work."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client

COUNTS = {"activities": 0, "signals": 0}  # bare activities run and signals handled, this process
OPTIONS = dict(start_to_close_timeout=timedelta(seconds=10))


@dataclass
class Calls:
    """What ours did per unit of work (an update, a deal), from its histories: averages."""

    activities: float = 0.0
    local_activities: float = 0.0
    children: list[Calls] = field(default_factory=list)

    def describe(self) -> str:
        own = f"{self.activities:g} activities, {self.local_activities:g} local"
        return own + "".join(f"; child: {c.describe()}" for c in self.children)


@activity.defn
async def bare_step(_: str) -> str:
    COUNTS["activities"] += 1
    return "done"


async def work(per: Calls, debt: list[float]) -> None:
    """Run this unit's share of activities; `debt` carries fractions so averages come out exact."""
    debt[0] += per.activities
    debt[1] += per.local_activities
    while debt[0] >= 1:
        debt[0] -= 1
        await workflow.execute_activity(bare_step, "a", **OPTIONS)  # type: ignore[arg-type]
    while debt[1] >= 1:
        debt[1] -= 1
        await workflow.execute_local_activity(bare_step, "l", **OPTIONS)  # type: ignore[arg-type]


@workflow.defn(sandboxed=False)
class BareJourney:
    """Waits forever; each signal or update costs what one of ours cost in the same round (its
    argument), so a row's rounds can alternate with ours."""

    @workflow.init
    def __init__(self, per: Calls) -> None:
        self.debt: list[float] = [0.0, 0.0]
        self.queue: list[Calls] = []
        self.n = 0

    @workflow.run
    async def run(self, per: Calls) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self.queue))
            await work(self.queue.pop(0), self.debt)
            COUNTS["signals"] += 1

    @workflow.signal
    def score(self, per: Calls) -> None:
        self.queue.append(per)

    @workflow.update
    async def apply(self, per: Calls) -> int:
        await work(per, self.debt)
        self.n += 1
        return self.n


@workflow.defn(sandboxed=False)
class BareDeal:
    """A deal: started with its signal as ours is (signal-with-start), its own activities, then its
    children (each with theirs); waits forever after. Counts are per workflow here, so averages are
    rounded (the 0.5 start of the carry)."""

    @workflow.signal
    def deal(self, deal_id: str) -> None:
        self.deal_id = deal_id

    @workflow.run
    async def run(self, per: Calls) -> None:
        await work(per, [0.5, 0.5])
        for i, child in enumerate(per.children):
            await workflow.start_child_workflow(
                BareDeal.run,
                Calls(child.activities, child.local_activities),
                id=f"{workflow.info().workflow_id}/{i}",
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )
        await workflow.wait_condition(lambda: False)


def deal_activities(per: Calls) -> int:
    """How many bare activities one BareDeal runs, its children's included."""
    own = int(per.activities + 0.5) + int(per.local_activities + 0.5)
    return own + sum(deal_activities(c) for c in per.children)


async def count(client: Client, workflow_ids: list[str], units_of_work: int) -> Calls:
    """Activities and local activities in these histories, per unit of work."""
    acts = local = 0
    for wid in workflow_ids:
        async for e in client.get_workflow_handle(wid).fetch_history_events():
            acts += e.HasField("activity_task_scheduled_event_attributes")
            local += e.HasField("marker_recorded_event_attributes") and (
                e.marker_recorded_event_attributes.marker_name == "core_local_activity"
            )
    return Calls(activities=acts / units_of_work, local_activities=local / units_of_work)


def mean(rounds: list[tuple[int, Calls]]) -> Calls:
    """Calls per unit of work over rounds of (units of work, calls per unit)."""
    n = sum(k for k, _ in rounds) or 1
    return Calls(
        activities=round(sum(k * c.activities for k, c in rounds) / n, 3),
        local_activities=round(sum(k * c.local_activities for k, c in rounds) / n, 3),
    )


def difference(after: Calls, before: Calls, units_of_work: int) -> Calls:
    """What was done between two counts (`count(..., 1)`: totals), per unit of work."""
    return Calls(
        activities=(after.activities - before.activities) / units_of_work,
        local_activities=(after.local_activities - before.local_activities) / units_of_work,
    )


async def serve(address: str, queue: str) -> None:
    """A worker process for BareJourney alone (bench/worker_memory.py measures its memory)."""
    import asyncio

    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Worker

    client = await Client.connect(address, data_converter=pydantic_data_converter)
    async with Worker(client, task_queue=queue, workflows=[BareJourney], activities=[bare_step]):
        await asyncio.Event().wait()
