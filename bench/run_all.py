"""The journey's benchmarks, each beside bare Temporal doing the same calls on the same embedded dev
server in the same run; prints one table and writes it as JSON.

    .venv/bin/python bench/run_all.py [--accounts 200] [--deals 60] [--rounds 6] [--waiting 1000] [--days 180]
                                      [--json bench.json]

Bare does the same calls: its workflows run as many (empty) activities and local activities per
update, per deal and per child as ours did for the same work in this run, counted from our
histories (bench/bare.py); the `bare_does` column says what that was. Ratio = ours / bare
throughput (bare / ours for memory), so higher is better for both. Each row alternates ours and bare
in --rounds, bare doing in each round what ours did in it.
Both run workflow code outside Temporal's sandbox (the product's default; WORKFLOW_SANDBOX=1 is not
benchmarked here).
  first-update-new        CSV import for accounts never seen | bare update-with-start, new ids
  deal-path               deal closed → journey → onboarding → welcome email in the outbox | bare:
                          signal-with-start of a workflow with ours' journey's activities, starting
                          children with theirs
  ingest-existing-import  CSV import (update-with-start per account, answered when applied) to
                          journeys past their deal | bare update-with-start to waiting workflows
  ingest-existing-feed    the batch feed's call (one signal per account) until every journey applied
                          it | bare signal-with-start until each signal is handled
  memory-waiting          RSS growth of a fresh `csr worker` process with --waiting journeys idle |
                          a fresh bare worker process with as many idle workflows
  history-*               events of one account's --days lifetime (bench/history_events.py, on the
                          time-skipping server): the journey's largest run, onboarding + scaling
Not timed assertions: a benchmark. Sizes are arguments; the defaults take a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from temporalio import workflow
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent))
with workflow.unsafe.imports_passed_through():  # this module is also loaded in the sandbox
    import bare
    import history_events
    import worker_memory
    from bare import BareDeal, BareJourney, Calls

    from activities.store import open_ledger
    from csrunner.config.accounts import load_account, load_team
    from csrunner.config.settings import REPO_ROOT, Settings
    from csrunner.services import journeys
    from csrunner.services.score_import import import_scores
    from csrunner.services.temporal import dev_server_path
    from worker import build_worker
    from workflows.search_attributes import ALL as SEARCH_ATTRIBUTE_KEYS


async def gated(n: int, calls) -> None:
    gate = asyncio.Semaphore(n)

    async def one(c):
        async with gate:
            await c()

    await asyncio.gather(*(one(c) for c in calls))


async def until(pred, poll: float = 0.05) -> None:
    while not await pred():
        await asyncio.sleep(poll)


async def bare_updates(client: Client, queue: str, ids: list[str], conc: int, per: Calls) -> float:
    def call(wid: str):
        op = WithStartWorkflowOperation(
            BareJourney.run,
            per,
            id=wid,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            task_queue=queue,
        )
        return lambda: client.execute_update_with_start_workflow(
            BareJourney.apply, per, start_workflow_operation=op
        )

    t = time.perf_counter()
    await gated(conc, [call(w) for w in ids])
    return time.perf_counter() - t


async def bare_signals(client: Client, queue: str, ids: list[str], conc: int, per: Calls) -> float:
    start, t = bare.COUNTS["signals"], time.perf_counter()
    await gated(
        conc,
        [
            (
                lambda w=w: client.start_workflow(
                    BareJourney.run,
                    per,
                    id=w,
                    task_queue=queue,
                    start_signal="score",
                    start_signal_args=[per],
                )
            )
            for w in ids
        ],
    )

    async def done() -> bool:
        return len(ids) <= bare.COUNTS["signals"] - start

    await until(done)
    return time.perf_counter() - t


async def bare_deals(client: Client, queue: str, ids: list[str], conc: int, deal: Calls) -> float:
    """Bare deals by signal-with-start, as ours; seconds until all their activities ran."""
    start, t = bare.COUNTS["activities"], time.perf_counter()
    await gated(
        conc,
        [
            (
                lambda a=a: client.start_workflow(
                    BareDeal.run,
                    deal,
                    id=f"bare-{a}",
                    task_queue=queue,
                    start_signal="deal",
                    start_signal_args=[a],
                )
            )
            for a in ids
        ],
    )

    async def done() -> bool:
        return len(ids) * bare.deal_activities(deal) <= bare.COUNTS["activities"] - start

    await until(done)
    return time.perf_counter() - t


async def _exists(client: Client, wid: str) -> bool:
    try:
        await client.get_workflow_handle(wid).describe()
        return True
    except RPCError:
        return False


def rounds(n: int, k: int) -> list[tuple[int, int]]:
    """n split into k rounds as (first index, size), sizes differing by at most one."""
    k = max(1, min(k, n))
    sizes = [n // k + (i < n % k) for i in range(k)]
    return [(sum(sizes[:i]), size) for i, size in enumerate(sizes)]


async def deal_calls(client: Client, journey_ids: list[str]) -> Calls:
    """What ours did per deal: the journeys' activities, and their plays' as children."""
    deal = await bare.count(client, journey_ids, len(journey_ids))
    for play in ("onboarding", "nps"):
        started = [w for w in (f"{j}/{play}/1" for j in journey_ids) if await _exists(client, w)]
        if started:
            child = await bare.count(client, started, len(started))
            deal.children += [child] * round(len(started) / len(journey_ids))
    return deal


def feed_score(k: int) -> float:
    """A score of its own for the k-th feed update (the last one is recognisable in the rows)."""
    return 60 + k / 100


def write_csv(path: Path, ids: list[str], score: float) -> Path:
    path.write_text("account_id,score\n" + "".join(f"{a},{score}\n" for a in ids))
    return path


async def dev_server() -> WorkflowEnvironment:
    """The embedded dev server both sides run on: our search attributes, and room for the import's
    concurrent updates per journey."""
    return await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTE_KEYS,
        dev_server_existing_path=dev_server_path(),
        dev_server_extra_args=["--dynamic-config-value", "limit.workflowExecution.maxInFlightUpdates=100"],
    )


async def run(args) -> list[dict]:
    rows: list[dict] = []
    acc = load_account(REPO_ROOT / "examples" / "acme.yaml", load_team(REPO_ROOT / "team.yaml"))
    tmp = Path(tempfile.mkdtemp())
    async with await dev_server() as env:
        client, run_id = env.client, uuid.uuid4().hex[:6]
        settings = Settings(data_dir=tmp, task_queue=f"bench-ours-{run_id}", journey_search_attributes=True)
        bare_q = f"bench-bare-{run_id}"
        n, conc = args.accounts, args.concurrency

        def row(name: str, ours_s: float, bare_s: float, unit: str, count: int, per: Calls) -> None:
            r = dict(
                row=name,
                count=count,
                ours=round(count / ours_s, 1),
                bare=round(count / bare_s, 1),
                unit=unit,
                ratio=round(bare_s / ours_s, 2),
                bare_does=per.describe(),
            )
            rows.append(r)
            print(
                f"{name:24} {r['ours']:>9} {r['bare']:>9} {unit:12} {r['ratio']:>5}  bare: {r['bare_does']}"
            )

        print(f"{'row':24} {'ours':>9} {'bare':>9} {'unit':12} {'ratio':>5}")
        async with (
            build_worker(client, settings),
            Worker(client, task_queue=bare_q, workflows=[BareJourney, BareDeal], activities=[bare.bare_step]),
        ):
            # Every row alternates ours and bare in --rounds, bare doing in each round what ours
            # did in it (counted from our histories), so a change in the server's load during a
            # row (its background work, its growing tables) falls on both alike.
            # new accounts: the first update starts the journey (kept until the deal closes)
            ours_s = bare_s = 0.0
            done: list[tuple[int, Calls]] = []
            for first, k in rounds(n, args.rounds):
                ids = [f"new-{run_id}-{i}" for i in range(first, first + k)]
                t = time.perf_counter()
                await import_scores(client, settings, write_csv(tmp / "new.csv", ids, 80), concurrency=conc)
                ours_s += time.perf_counter() - t
                per = await bare.count(client, [f"journey:{a}" for a in ids], k)
                bare_s += await bare_updates(client, bare_q, [f"bare-{a}" for a in ids], conc, per)
                done.append((k, per))
            row("first-update-new", ours_s, bare_s, "updates/s", n, bare.mean(done))

            # deal path: deal closed (the webhook's service call) → journey → onboarding → welcome
            # email in the outbox
            d, emails = args.deals, settings.outbox_dir / "email"
            ours_s = bare_s = 0.0
            deal: Calls | None = None
            for first, k in rounds(d, args.rounds):
                ids = [f"deal-{run_id}-{i}" for i in range(first, first + k)]
                t = time.perf_counter()
                await gated(
                    conc,
                    [
                        (
                            lambda a=a: journeys.deal_closed(
                                client, settings, acc.model_copy(update={"id": a}), a
                            )
                        )
                        for a in ids
                    ],
                )

                async def welcomed(sent: int = first + k) -> bool:
                    return emails.exists() and sum(1 for p in emails.glob("*onboarding*")) >= sent

                await until(welcomed)
                ours_s += time.perf_counter() - t
                if deal is None:  # what ours did until the emails, from the first round's histories
                    deal = await deal_calls(client, [f"journey:{a}" for a in ids])
                bare_s += await bare_deals(client, bare_q, ids, conc, deal)
            assert deal is not None
            row("deal-path", ours_s, bare_s, "deals/s", d, deal)
            existing = [f"deal-{run_id}-{i}" for i in range(d)]
            journey_ids = [f"journey:{a}" for a in existing]

            # existing journeys (their deal closed above): import and feed, each account's update
            # `reps` times; bare's workflows exist first, as ours do
            reps = max(1, n // d)
            bare_ids = [f"bare-ex-{run_id}-{i}" for i in range(d)]
            feed_ids = [f"bare-feed-{run_id}-{i}" for i in range(d)]
            await bare_updates(client, bare_q, bare_ids + feed_ids, conc, Calls())
            ours_s = bare_s = 0.0
            done = []
            before = await bare.count(client, journey_ids, 1)
            for first, k in rounds(reps, args.rounds):
                t = time.perf_counter()
                for rep in range(first, first + k):
                    csv = write_csv(tmp / "ex.csv", existing, 70 + rep % 20)
                    await import_scores(client, settings, csv, concurrency=conc)
                ours_s += time.perf_counter() - t
                after = await bare.count(client, journey_ids, 1)
                per, before = bare.difference(after, before, d * k), after
                for _ in range(k):
                    bare_s += await bare_updates(client, bare_q, bare_ids, conc, per)
                done.append((d * k, per))
            row("ingest-existing-import", ours_s, bare_s, "updates/s", d * reps, bare.mean(done))

            # The feed does not wait; measuring only: every journey has applied a round's last
            # update once its row in the store holds that score (asking 200 journeys their view
            # in a loop would load the very worker being measured; bare counts in-process).
            store = open_ledger(settings)
            ours_s = bare_s = 0.0
            done = []
            for first, k in rounds(reps, args.rounds):
                t = time.perf_counter()
                for rep in range(first, first + k):
                    ups = [journeys.score_update(settings, score=feed_score(rep), source="feed")]
                    await gated(
                        conc,
                        [
                            (
                                lambda a=a: journeys.send_batch(
                                    client, settings, a, ups, f"feed-{run_id}-{rep}"
                                )
                            )
                            for a in existing
                        ],
                    )

                async def applied(last: float = feed_score(first + k - 1)) -> bool:
                    rows = store.account_rows()
                    return all(a in rows and rows[a].score == last for a in existing)

                await until(applied, 0.02)
                ours_s += time.perf_counter() - t
                after = await bare.count(client, journey_ids, 1)
                per, before = bare.difference(after, before, d * k), after
                for _ in range(k):
                    bare_s += await bare_signals(client, bare_q, feed_ids, conc, per)
                done.append((d * k, per))
            store.close()
            row("ingest-existing-feed", ours_s, bare_s, "updates/s", d * reps, bare.mean(done))

        # memory: a fresh `csr worker` process holding many idle journeys vs a fresh bare one
        w = args.waiting
        ours_mb, bare_mb = await worker_memory.idle_journeys(client, w, conc)
        ours_mb, bare_mb = max(ours_mb, 0.1), max(bare_mb, 0.1)
        rows.append(
            dict(
                row="memory-waiting",
                count=w,
                ours=round(ours_mb, 1),
                bare=round(bare_mb, 1),
                unit="MiB RSS growth",
                ratio=round(bare_mb / ours_mb, 2),
            )
        )
        print(
            f"{'memory-waiting':24} {ours_mb:>9.1f} {bare_mb:>9.1f} {'MB RSS':12} {bare_mb / ours_mb:>5.2f}"
        )
    if args.days:  # history sizes: the lifetime on the time-skipping server (no bare to compare)
        life = await history_events.measure(args.days)
        journey = next(
            r for r in life["rows"] if r["workflow_id"].startswith("journey:") and "/" not in r["workflow_id"]
        )
        onboarding = life["onboarding_scaling"]
        for name, r, what in [
            (f"history-journey-{args.days}d", journey, f"largest run of {journey['runs']} (continue-as-new)"),
            ("history-onboarding+scaling", onboarding, f"both runs; target < {history_events.TARGET}"),
        ]:
            events = r["max"] if name.startswith("history-journey") else r["total"]
            rows.append(
                dict(row=name, count=1, ours=events, bare=None, unit="events", ratio=None, bare_does=what)
            )
            print(f"{name:24} {events:>9} {'-':>9} {'events':12} {'-':>5}  {what}")
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=200, help="updates per ingestion row")
    p.add_argument("--deals", type=int, default=60, help="deals (also the existing journeys)")
    p.add_argument("--waiting", type=int, default=1000, help="idle journeys for the memory row")
    p.add_argument("--days", type=int, default=180, help="lifetime for the history rows (0: skip them)")
    p.add_argument("--rounds", type=int, default=6, help="rounds per row, ours and bare alternating")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--json", default="bench/results.json")
    a = p.parse_args()
    out = asyncio.run(run(a))
    Path(a.json).write_text(json.dumps({"args": vars(a), "rows": out}, indent=2) + "\n")
    print(f"written to {a.json}")
