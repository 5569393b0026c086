"""What one score update to an existing journey costs, in CPU time: the CSV import's call
(update-with-start, answered once applied) beside bare Temporal doing the same calls.

    .venv/bin/python bench/update_cost.py [--journeys 200] [--reps 6]

JOURNEYS deals close first (journeys past their deal, as in bench/run_all.py's import row), then
REPS imports of one score per account. Per update: CPU time of this process (the worker and the
client: both sides run here, one after the other) and of the dev server (its process, from
/proc), the local activities and workflow activations ours ran, and the same for bare updates
that run as many activities and local activities as ours did (bench/bare.py). CPU time, not a
profile: what each update takes from the 2 cores both share."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from temporalio import workflow
from temporalio.worker import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent))
with workflow.unsafe.imports_passed_through():
    import bare
    from bare import BareJourney
    from run_all import bare_updates, dev_server, gated, until, write_csv

    from csrunner.config.accounts import load_account, load_team
    from csrunner.config.settings import REPO_ROOT, Settings
    from csrunner.services import journeys
    from csrunner.services.score_import import import_scores
    from worker import build_worker


def cpu_seconds() -> tuple[float, float]:
    """(this process, its child processes still running: the dev server), user + system."""
    me, tick, server = os.times(), os.sysconf("SC_CLK_TCK"), 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == os.getpid():
            server += (int(stat[11]) + int(stat[12])) / tick
    return me.user + me.system, server


async def measure(n: int, reps: int, send) -> dict:
    c0, t = cpu_seconds(), time.perf_counter()
    for k in range(reps):
        await send(k)
    wall, c1, units = time.perf_counter() - t, cpu_seconds(), n * reps
    return {
        "updates/s": round(units / wall, 1),
        "worker+client ms": round(1000 * (c1[0] - c0[0]) / units, 1),
        "server ms": round(1000 * (c1[1] - c0[1]) / units, 1),
    }


async def run(n: int, reps: int) -> None:
    acc = load_account(REPO_ROOT / "examples" / "acme.yaml", load_team(REPO_ROOT / "team.yaml"))
    tmp, run_id = Path(tempfile.mkdtemp()), uuid.uuid4().hex[:6]
    async with await dev_server() as env:
        client = env.client
        settings = Settings(data_dir=tmp, task_queue=f"cost-{run_id}", journey_search_attributes=True)
        bare_q = f"cost-bare-{run_id}"
        async with (
            build_worker(client, settings),
            Worker(client, task_queue=bare_q, workflows=[BareJourney], activities=[bare.bare_step]),
        ):
            ids = [f"cost-{run_id}-{i}" for i in range(n)]
            await gated(
                32,
                [
                    (
                        lambda a=a: journeys.deal_closed(
                            client, settings, acc.model_copy(update={"id": a}), "d"
                        )
                    )
                    for a in ids
                ],
            )
            emails = settings.outbox_dir / "email"

            async def welcomed() -> bool:
                return emails.exists() and sum(1 for _ in emails.glob("*onboarding*")) >= n

            await until(welcomed)
            await asyncio.sleep(2)  # the deals' last workflow tasks
            journey_ids = [journeys.journey_id(a) for a in ids]
            before = await bare.count(client, journey_ids, 1)

            async def ours(k: int) -> None:
                await import_scores(
                    client, settings, write_csv(tmp / f"{k}.csv", ids, 70 + k % 5), concurrency=32
                )

            rows = {"ours": await measure(n, reps, ours)}
            per = bare.difference(await bare.count(client, journey_ids, 1), before, n * reps)
            bare_ids = [f"cost-bare-{run_id}-{i}" for i in range(n)]
            await bare_updates(client, bare_q, bare_ids, 32, per)  # they exist first, as ours do

            async def bare_rep(_: int) -> None:
                await bare_updates(client, bare_q, bare_ids, 32, per)

            rows["bare"] = await measure(n, reps, bare_rep)
    print(f"{n} journeys x {reps} imports; ours ran, per update: {per.describe()} (bare runs the same)")
    print(f"{'':6} {'updates/s':>10} {'worker+client ms':>17} {'server ms':>10}")
    for name, r in rows.items():
        print(f"{name:6} {r['updates/s']:>10} {r['worker+client ms']:>17} {r['server ms']:>10}")
    print(f"ratio  {rows['ours']['updates/s'] / rows['bare']['updates/s']:>10.2f}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--journeys", type=int, default=200, help="existing journeys (deals closed first)")
    p.add_argument("--reps", type=int, default=6, help="imports of one score per journey")
    a = p.parse_args()
    asyncio.run(run(a.journeys, a.reps))
