"""Journeys started and their day-0 steps done per second, against bare Temporal doing the same
number of workflow starts and no-op activities, on the same dev server in the same run.

    .venv/bin/python bench/day0_throughput.py [--runs 200] [--rounds 3]

SPEC 9 target: ratio >= 0.8. Our day 0 is: plan the schedule (local activity), Slack to the CSM,
the welcome email (outbox), the kickoff task (local activity). The bare workflow does the same
shape with no-op bodies: 2 local activities and 2 activities."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():  # this module is also loaded in the sandbox
    from csrunner.config.accounts import load_account, load_team
    from csrunner.config.catalog import load_catalog
    from csrunner.config.settings import REPO_ROOT, Settings
    from csrunner.domain.messages import PlaybookInput
    from csrunner.services.temporal import dev_server_path
    from worker import build_worker
    from workflows.playbook import PlaybookWorkflow
    from workflows.search_attributes import ALL as SEARCH_ATTRIBUTE_KEYS


DONE = 0


@activity.defn
async def noop(_: str) -> str:
    return "ok"


@activity.defn
async def noop_last(_: str) -> str:
    global DONE
    DONE += 1
    return "ok"


@workflow.defn
class BareDay0:
    @workflow.run
    async def run(self, name: str) -> None:
        opts = dict(start_to_close_timeout=timedelta(seconds=10))
        await workflow.execute_local_activity(noop, name, **opts)
        await workflow.execute_activity(noop, name, **opts)
        await workflow.execute_activity(noop, name, **opts)
        await workflow.execute_local_activity(noop_last, name, **opts)
        await workflow.sleep(timedelta(days=1))


async def timed(start_all, done, n: int) -> float:
    t = time.perf_counter()
    await start_all()
    while done() < n:
        await asyncio.sleep(0.02)
    return time.perf_counter() - t


async def main(n: int, rounds: int) -> None:
    account = load_account(REPO_ROOT / "examples" / "acme.yaml", load_team(REPO_ROOT / "team.yaml"))
    bundle = load_catalog(REPO_ROOT / "playbooks", REPO_ROOT / "email_templates").bundle("onboarding")
    bare_s, ours_s = [], []
    async with await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTE_KEYS,
        dev_server_existing_path=dev_server_path(),
    ) as env:
        client = env.client
        for r in range(rounds):  # alternate, so load on the machine hits both alike
            global DONE
            DONE, queue = 0, f"bench-bare-{r}"
            async with Worker(client, task_queue=queue, workflows=[BareDay0], activities=[noop, noop_last]):
                bare_s.append(
                    await timed(
                        lambda: asyncio.gather(
                            *[
                                client.start_workflow(
                                    BareDay0.run, str(i), id=f"bare-{uuid.uuid4()}", task_queue=queue
                                )
                                for i in range(n)
                            ]
                        ),
                        lambda: DONE,
                        n,
                    )
                )
            settings = Settings(data_dir=Path(tempfile.mkdtemp()), task_queue=f"bench-ours-{r}")
            tasks = settings.outbox_dir / "tasks"
            async with build_worker(client, settings):
                ours_s.append(
                    await timed(
                        lambda: asyncio.gather(
                            *[
                                client.start_workflow(
                                    PlaybookWorkflow.run,
                                    PlaybookInput(
                                        account=account.model_copy(update={"id": f"acct-{r}-{i}"}),
                                        playbook="onboarding",
                                        definitions=bundle,
                                    ),
                                    id=f"bench-{r}-{i}-{uuid.uuid4().hex[:6]}",
                                    task_queue=settings.task_queue,
                                )
                                for i in range(n)
                            ]
                        ),
                        lambda: len(list(tasks.glob("*.md"))) if tasks.exists() else 0,
                        n,
                    )
                )
            print(f"round {r + 1}: bare {n / bare_s[-1]:6.1f}/s   ours {n / ours_s[-1]:6.1f}/s", flush=True)
    bare, ours = statistics.median(bare_s), statistics.median(ours_s)
    print(f"runs per round: {n}, rounds: {rounds} (medians below)")
    print(f"bare Temporal:   {n / bare:6.1f} workflows/s with day-0 done")
    print(f"playbook runner: {n / ours:6.1f} journeys/s with day-0 done")
    print(f"ratio (ours / bare): {bare / ours:.2f}   target >= 0.8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.rounds))
