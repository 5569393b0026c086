"""Worker memory with many playbook runs waiting between steps (SPEC 9: 10,000 under 1 GiB).

    .venv/bin/python bench/worker_memory.py [--runs 10000] [--checkpoints 1000,5000,10000]

Starts the real dev server and a separate `csr worker` process, starts onboarding runs (each
does its day-0 steps, then waits for day 1), and reads the worker's resident memory (VmRSS) at
each checkpoint once every run so far has done day 0. The worker keeps at most
`max_cached_workflows` (SDK default 1,000) runs in memory; the rest replay on their next wake-up."""

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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--checkpoints", default="1000,5000,10000")
    args = parser.parse_args()
    asyncio.run(main(args.runs, [int(c) for c in args.checkpoints.split(",") if int(c) <= args.runs]))
