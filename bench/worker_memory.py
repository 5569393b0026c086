"""Worker memory with many playbook runs or journeys waiting (SPEC 9: 10,000 under 1 GiB).

    .venv/bin/python bench/worker_memory.py [--runs 10000] [--checkpoints 1000,5000,10000]
    .venv/bin/python bench/worker_memory.py --journeys 10000

Starts the real dev server and a separate `csr worker` process, then either starts onboarding runs
(each does its day-0 steps, then waits for day 1) and reads the worker's resident memory (VmRSS)
at each checkpoint once every run so far has done day 0; or (--journeys) starts that many account
journeys by their first score update (each applied, then waiting for its deal) and reads the RSS
growth of that worker and of a bare Temporal worker process holding as many idle workflows. Each
worker keeps at most `max_cached_workflows` (SDK default 1,000) in memory; the rest replay on their
next wake-up."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from csrunner.config.accounts import load_account, load_team
from csrunner.config.catalog import load_catalog
from csrunner.config.settings import REPO_ROOT
from csrunner.domain.messages import PlaybookInput
from csrunner.services.temporal import dev_server_path
from workflows.playbook import PlaybookWorkflow
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTE_KEYS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def spawn(args: list[str], address: str, queue: str, data: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": address,
        "TASK_QUEUE": queue,
        "DATA_DIR": str(data),
        "METRICS_PORT": "0",
    }
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def idle_journeys(client, n: int, concurrency: int = 32) -> tuple[float, float]:
    """RSS growth (MiB) of a fresh `csr worker` holding `n` idle journeys, and of a fresh bare
    worker process holding `n` idle BareJourney workflows; same server, one after the other."""
    from bare import BareJourney, Calls
    from temporalio.client import WithStartWorkflowOperation
    from temporalio.common import WorkflowIDConflictPolicy

    from csrunner.config.settings import Settings
    from csrunner.services.journeys import apply_batch, score_update

    address, tag, data = (
        client.service_client.config.target_host,
        uuid.uuid4().hex[:6],
        Path(tempfile.mkdtemp()),
    )
    gate = asyncio.Semaphore(concurrency)

    async def gated(call) -> None:
        async with gate:
            await call()

    async def measure(proc: subprocess.Popen, start_one) -> float:
        try:
            await asyncio.sleep(3)
            idle = rss_mib(proc.pid)
            await asyncio.gather(*(gated(lambda i=i: start_one(i)) for i in range(n)))
            await asyncio.sleep(1)
            return rss_mib(proc.pid) - idle
        finally:
            proc.kill()

    settings = Settings(data_dir=data, task_queue=f"memj-{tag}", journey_search_attributes=True)
    update = score_update(settings, score=80, source="bench")
    csr = [str(Path(sys.executable).parent / "csr"), "worker"]
    ours = await measure(
        spawn(csr, address, settings.task_queue, data),
        lambda i: apply_batch(client, settings, f"idle-{tag}-{i}", [update], "first"),
    )
    bare_q = f"memb-{tag}"
    code = f"import asyncio, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bare; "
    code += f"asyncio.run(bare.serve({address!r}, {bare_q!r}))"

    def bare_one(i: int):
        op = WithStartWorkflowOperation(
            BareJourney.run,
            Calls(),
            id=f"idle-b-{tag}-{i}",
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            task_queue=bare_q,
        )
        return client.execute_update_with_start_workflow(
            BareJourney.apply, Calls(), start_workflow_operation=op
        )

    bare_mb = await measure(spawn([sys.executable, "-c", code], address, bare_q, data), bare_one)
    return ours, bare_mb


async def main(runs: int, checkpoints: list[int]) -> None:
    data = Path(tempfile.mkdtemp())
    account = load_account(REPO_ROOT / "examples" / "acme.yaml", load_team(REPO_ROOT / "team.yaml"))
    bundle = load_catalog(REPO_ROOT / "playbooks", REPO_ROOT / "email_templates").bundle("onboarding")
    async with await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTE_KEYS,
        dev_server_existing_path=dev_server_path(),
    ) as env:
        queue = f"mem-{uuid.uuid4().hex[:6]}"
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "csr"), "worker"],
            env={
                **os.environ,
                "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
                "TASK_QUEUE": queue,
                "DATA_DIR": str(data),
                "METRICS_PORT": "0",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(3)
            print(f"worker idle: {rss_mib(worker.pid):.0f} MiB", flush=True)
            tasks, started, t0 = data / "outbox" / "tasks", 0, time.perf_counter()
            for target in checkpoints:
                while started < target:
                    n = min(200, target - started)
                    await asyncio.gather(
                        *[
                            env.client.start_workflow(
                                PlaybookWorkflow.run,
                                PlaybookInput(
                                    account=account.model_copy(update={"id": f"m{started + i}"}),
                                    playbook="onboarding",
                                    definitions=bundle,
                                ),
                                id=f"mem-{started + i}",
                                task_queue=queue,
                            )
                            for i in range(n)
                        ]
                    )
                    started += n
                while len(list(tasks.glob("*.md"))) < target:
                    await asyncio.sleep(0.5)
                print(
                    f"{target:>6} runs waiting for day 1: worker RSS {rss_mib(worker.pid):.0f} MiB "
                    f"({time.perf_counter() - t0:.0f} s)",
                    flush=True,
                )
        finally:
            worker.kill()


async def journeys_main(n: int) -> None:
    async with await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTE_KEYS,
        dev_server_existing_path=dev_server_path(),
    ) as env:
        t0 = time.perf_counter()
        ours, bare_mb = await idle_journeys(env.client, n)
    print(
        f"{n} idle journeys: csr worker +{ours:.0f} MiB, bare worker +{bare_mb:.0f} MiB, "
        f"ratio (bare / ours) {bare_mb / max(ours, 0.1):.2f} ({time.perf_counter() - t0:.0f} s)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--checkpoints", default="1000,5000,10000")
    parser.add_argument("--journeys", type=int, default=0, help="idle journeys instead of runs")
    args = parser.parse_args()
    if args.journeys:
        asyncio.run(journeys_main(args.journeys))
        sys.exit(0)
    asyncio.run(main(args.runs, [int(c) for c in args.checkpoints.split(",") if int(c) <= args.runs]))
