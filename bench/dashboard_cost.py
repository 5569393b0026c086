"""What the team dashboard costs: time to gather the report from Temporal and to render the page.

    .venv/bin/python bench/dashboard_cost.py [--accounts 10000] [--journeys 1000] [--concurrency 32]

1. Synthetic: ACCOUNTS account snapshots (bands, NPS, plays, escalations) and their pending work
   → the KPIs (csrunner/domain/kpis.py) → the dashboard HTML with its SVG charts. No Temporal.
2. Real: a dev server with our search attributes and a worker (`csr worker`, its own process); JOURNEYS accounts' deals close
   (each starts its journey and onboarding) and get a health score; then the report is gathered
   as ops and rendered: two visibility listings with the rows journeys and runs publish in their
   memos (csrunner/domain/read_model.py); runs that have not published yet are asked their `view`,
   CONCURRENCY at a time (gather #1 may meet some while the worker catches up). Beside each gather,
   bare Temporal: the same two listings, and the ratio of the two times. Skipped with --journeys 0."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from csrunner.config.accounts import load_account, load_team
from csrunner.config.catalog import load_catalog
from csrunner.config.settings import REPO_ROOT, Settings
from csrunner.domain.kpis import Report, compute
from csrunner.domain.snapshots import AccountSnapshot, BandAt, NpsAt, PendingSnapshot, PlaySnapshot
from csrunner.interfaces.web.dashboard import chart_set
from csrunner.interfaces.web.inbox import templates
from csrunner.services import report
from csrunner.services.journeys import deal_closed, push_score
from csrunner.services.temporal import dev_server_path
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTE_KEYS

BANDS = ["critical", "at_risk", "healthy"]
RANKS = {"critical": 1, "at_risk": 2, "healthy": 3}
CSMS = ["maria", "tom"]


def render(r: Report) -> str:
    return templates.get_template("dashboard.html").render(
        r=r, charts=chart_set(r), who=None, flash="", problem="", person_name=lambda p: p
    )


def synthetic(n: int, now: datetime) -> tuple[list[AccountSnapshot], list[PendingSnapshot]]:
    rnd = random.Random(11)  # the same portfolio every run
    accounts, pending = [], []
    for i in range(n):
        closed = now - timedelta(days=rnd.randint(1, 200))
        bands = [
            BandAt(at=closed + timedelta(days=d), band=rnd.choice(BANDS))
            for d in sorted(rnd.sample(range(200), 4))
        ]
        plays = [
            PlaySnapshot(
                playbook="onboarding", started_at=closed, status=rnd.choice(["completed", "running"])
            )
        ]
        plays += [
            PlaySnapshot(
                playbook=rnd.choice(["retention-at-risk", "retention-critical", "nps"]),
                started_at=closed + timedelta(days=rnd.randint(0, 150)),
                status="completed",
                held_out=rnd.random() < 0.2,
            )
            for _ in range(3)
        ]
        accounts.append(
            AccountSnapshot(
                account_id=f"acc-{i:05d}",
                csm_id=CSMS[i % 2],
                phase=rnd.choice(["onboarding", "lifecycle"]),
                closed_at=closed,
                score=rnd.randint(20, 100),
                band=bands[-1].band,
                bands=bands,
                nps=[NpsAt(at=now - timedelta(days=rnd.randint(1, 90)), score=rnd.randint(0, 10))],
                plays=plays,
                first_value_at=closed + timedelta(days=rnd.randint(3, 30)),
                escalations=[now - timedelta(days=rnd.randint(1, 90))],
            )
        )
        pending.append(
            PendingSnapshot(
                account_id=f"acc-{i:05d}",
                csm_id=CSMS[i % 2],
                workflow_id=f"journey:acc-{i:05d}/onboarding/1",
                step_id="day0-kickoff",
                kind="task",
                assignee=CSMS[i % 2],
                due_at=now + timedelta(hours=rnd.randint(-48, 48)),
            )
        )
    return accounts, pending


def timed(label: str, fn):
    t = time.perf_counter()
    out = fn()
    print(f"  {label}: {time.perf_counter() - t:.2f} s", flush=True)
    return out


async def real(n: int, concurrency: int) -> None:
    account = load_account(REPO_ROOT / "examples" / "acme.yaml", load_team(REPO_ROOT / "team.yaml"))
    catalog = load_catalog(REPO_ROOT / "playbooks", REPO_ROOT / "email_templates")
    async with await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTE_KEYS,
        dev_server_existing_path=dev_server_path(),
        dev_server_log_level="error",
    ) as env:
        client = env.client
        data = Path(tempfile.mkdtemp())
        settings = Settings(data_dir=data, task_queue="bench-dashboard")
        # The worker in its own process, as in production (`csr worker`): the report's client
        # does not share a CPU-bound event loop with it.
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "csr"), "worker"],
            env={
                **os.environ,
                "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
                "TASK_QUEUE": settings.task_queue,
                "DATA_DIR": str(data),
                "METRICS_PORT": "0",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await _fill_and_measure(client, settings, catalog, account, n, concurrency)
        finally:
            worker.terminate()
            worker.wait(timeout=30)


async def _fill_and_measure(client, settings, catalog, account, n: int, concurrency: int) -> None:
    sem = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        acct = account.model_copy(update={"id": f"acc-{i:05d}"})
        async with sem:
            await deal_closed(client, settings, acct, f"deal-{i}")
            await push_score(client, settings, acct.id, score=(i * 37) % 101, source="bench")

    t = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    print(f"  {n} deals closed and scored in {time.perf_counter() - t:.1f} s", flush=True)
    while True:  # until visibility lists them all with their band, and the worker is idle
        banded = await client.count_workflows("WorkflowType = 'AccountJourneyWorkflow' AND Band IS NOT NULL")
        if banded.count >= n:
            break
        await asyncio.sleep(2)
    print(f"  all {n} journeys scored after {time.perf_counter() - t:.1f} s", flush=True)
    await asyncio.sleep(10)
    asked: list[int] = []
    bounded = report._bounded

    async def counted(limit, jobs):  # the runs asked their view (no row in their memo yet)
        asked.append(len(jobs))
        return await bounded(limit, jobs)

    report._bounded = counted
    for k in range(3):
        asked.clear()
        t = time.perf_counter()
        r = await report.gather(client, settings, catalog, None, datetime.now(UTC), concurrency)
        gathered = time.perf_counter() - t
        html = timed("render", lambda r=r: render(r))
        t, listed = time.perf_counter(), 0  # bare Temporal: the same two listings, rows not read
        for q in (
            report._query("AccountJourneyWorkflow", None, True),
            report._query("PlaybookWorkflow", None, True, report._RUNS),
        ):
            listed += len([w async for w in client.list_workflows(q)])
        bare = time.perf_counter() - t
        print(
            f"  gather #{k + 1} (ops, {r.accounts} accounts, "
            f"{sum(w.tasks + w.approvals for w in r.work)} pending items, {sum(asked)} runs asked "
            f"their view): {gathered:.2f} s; bare listing {bare:.2f} s ({listed} rows), "
            f"ratio {bare / gathered:.2f}; page {len(html) / 1024:.0f} KiB",
            flush=True,
        )


def main(accounts: int, journeys: int, concurrency: int) -> None:
    now = datetime.now(UTC)
    print(f"synthetic: {accounts} accounts")
    snaps, pending = timed("build snapshots", lambda: synthetic(accounts, now))
    r = timed("compute KPIs", lambda: compute(snaps, pending, now, RANKS))
    html = timed("render the page", lambda: render(r))
    print(f"  page: {len(html) / 1024:.0f} KiB")
    if journeys:
        print(f"real: {journeys} journeys on a dev server (concurrency {concurrency})")
        asyncio.run(real(journeys, concurrency))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--journeys", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    main(args.accounts, args.journeys, args.concurrency)
