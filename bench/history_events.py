"""History events of one account's lifetime: the journey (its continue-as-new chain) and every play
it started, on Temporal's time-skipping server with the product's worker (outbox mode).

    .venv/bin/python bench/history_events.py [--days 180] [--json [bench/history_events.json]]

Day 0 the deal of examples/acme.yaml closes (onboarding hands over to scaling by continue-as-new:
one workflow id, two runs). Every day a nightly score at 02:00 UTC (healthy, at risk from day 50,
critical days 58-66, at risk again, healthy from day 80, at risk days 130-136); NPS answers on
day 45 (5) and day 90 (9) at 10:00; the CSM answers whatever is pending at 12:00. Target (the
issue): onboarding + scaling under 400 events. Everything started is terminated before the
server stops (a run left waiting can lock time on the test server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from csrunner.config.accounts import load_account, load_team
from csrunner.config.settings import REPO_ROOT, Settings
from csrunner.domain.messages import Action, PlaybookInput
from csrunner.services import journeys
from csrunner.services.runs import act
from csrunner.services.temporal import test_server_path
from worker import build_worker
from workflows.playbook import PlaybookWorkflow

TARGET = 400  # onboarding + scaling, events
DEFAULT_JSON = Path(__file__).resolve().parent / "history_events.json"


def score_on(day: int) -> float:
    if 58 <= day <= 66:
        return 45 + day % 3  # critical
    if 50 <= day <= 79 or 130 <= day <= 136:
        return 70 + day % 5  # at risk
    return 84 + day % 7  # healthy


async def csm_pass(env: WorkflowEnvironment, client: Client, account_id: str, actor: str) -> int:
    """The CSM approves every approval and completes every task (yes where it records a fact)
    pending in the account's running plays, until nothing is left pending."""
    done = 0
    for _ in range(6):
        acted = False
        for play in (await journeys.journey_view(client, account_id)).plays:
            if play.status != "running":
                continue
            rv = await client.get_workflow_handle(play.workflow_id).query(PlaybookWorkflow.view)
            for p in rv.pending:
                action = Action(
                    step_id=p.step_id,
                    action="approve" if p.kind == "approval" else "complete",
                    actor=actor,
                    value=True if p.records else None,
                    edits={k: f"written by the CSM ({k})" for k, v in p.editable.items() if not v.strip()},
                )
                await act(client, play.workflow_id, action)
                done, acted = done + 1, True
        if not acted:
            break
        await env.sleep(timedelta(minutes=1))  # the plays go on to their next steps
    return done


async def runs_of(client: Client, wid: str) -> list[dict[str, Any]]:
    """Each run of `wid`, first first (continue-as-new walked back from the latest run): its
    playbook (plays), events, and how its history ends so far."""
    runs, run_id = [], None
    while True:
        history = await client.get_workflow_handle(wid, run_id=run_id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        playbook = ""
        if started.workflow_type.name == PlaybookWorkflow.__name__:
            [inp] = await client.data_converter.decode(started.input.payloads, [PlaybookInput])
            playbook = inp.playbook
        last = EventType.Name(history.events[-1].event_type).removeprefix("EVENT_TYPE_").lower()
        runs.append(
            {"run_id": history.run_id, "playbook": playbook, "events": len(history.events), "last": last}
        )
        if not started.continued_execution_run_id:
            return runs[::-1]
        run_id = started.continued_execution_run_id


async def simulate(env: WorkflowEnvironment, days: int) -> dict[str, Any]:
    client = env.client
    account = load_account(REPO_ROOT / "examples" / "acme.yaml", load_team(REPO_ROOT / "team.yaml"))
    acc, csm = account.id, account.csm.id
    settings = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="bench-history-")),
        task_queue="bench-history-" + uuid.uuid4().hex,
        sendgrid_api_key="",
        slack_bot_token="",
        database_url="",
    )
    now = await env.get_current_time()
    base = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)

    async def to(day: int, hour: int, minute: int = 0) -> None:
        target = base + timedelta(days=day, hours=hour, minutes=minute)
        while (now := await env.get_current_time()) < target:
            await env.sleep(min(target - now, timedelta(days=1)))

    answered, found = 0, []
    async with build_worker(client, settings):
        try:
            await to(0, 0, 30)
            await journeys.deal_closed(client, settings, account, account.deal_id or "9001")
            for day in range(days + 1):
                await to(day, 2)
                await journeys.push_score(client, settings, acc, score=score_on(day), source="nightly")
                if day in (45, 90):
                    await to(day, 10)
                    await journeys.push_nps(client, settings, acc, 5 if day == 45 else 9, "bench")
                await to(day, 12)
                answered += await csm_pass(env, client, acc, csm)
            view = await journeys.journey_view(client, acc)
            for wid, status in [
                (view.workflow_id, "running"),
                *((p.workflow_id, p.status) for p in view.plays),
            ]:
                found.append((wid, status, await runs_of(client, wid)))
        finally:
            await asyncio.sleep(0.5)  # activities in flight finish first (they would lock time)
            await terminate_all(client, acc)
    return {"csm_actions": answered, "found": found}


async def terminate_all(client: Client, account_id: str) -> None:
    ids: list[str] = []
    try:
        ids = [p.workflow_id for p in (await journeys.journey_view(client, account_id)).plays]
    except Exception:  # no journey
        pass
    for wid in [*ids, journeys.journey_id(account_id)]:
        try:
            await client.get_workflow_handle(wid).terminate("benchmark over")
        except Exception:  # already closed
            pass


def report(out: dict[str, Any], days: int, wall: float) -> dict[str, Any]:
    rows = []
    for wid, status, runs in out["found"]:
        sizes = [r["events"] for r in runs]
        rows.append(
            {
                "workflow_id": wid,
                "status": status,
                "runs": len(sizes),
                "chain": " → ".join(r["playbook"] for r in runs if r["playbook"]),
                "events_per_run": sizes,
                "max": max(sizes),
                "total": sum(sizes),
                "run_ends": [r["last"] for r in runs],
            }
        )
    onboarding = next((r for r in rows if r["workflow_id"].endswith("/onboarding/1")), None)
    print(
        f"\n{days} days simulated (days 0-{days}), wall time {wall:.1f} s, {out['csm_actions']} CSM actions"
    )
    print("\n| workflow id | status | runs | chain | events per run | max | total |")
    print("|---|---|---:|---|---|---:|---:|")
    for r in rows:
        per = ", ".join(map(str, r["events_per_run"]))
        print(
            f"| {r['workflow_id']} | {r['status']} | {r['runs']} | {r['chain']} | {per} | {r['max']} | {r['total']} |"
        )
    if onboarding:
        ok = "met" if onboarding["total"] < TARGET else "NOT met"
        print(f"\nonboarding + scaling: {onboarding['total']} events (target < {TARGET}: {ok})")
    return {
        "days": days,
        "wall_s": round(wall, 1),
        "csm_actions": out["csm_actions"],
        "target": TARGET,
        "onboarding_scaling": onboarding,
        "rows": rows,
    }


async def measure(days: int) -> dict[str, Any]:
    """The lifetime on its own time-skipping server; prints the table, returns it (bench/run_all.py)."""
    began = time.monotonic()
    async with await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=test_server_path()
    ) as env:
        out = await simulate(env, days)
    return report(out, days, time.monotonic() - began)


async def main(days: int, json_path: Path | None) -> None:
    result = await measure(days)
    if json_path:
        json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {json_path}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--json", type=Path, nargs="?", const=DEFAULT_JSON, default=None, metavar="PATH")
    args = ap.parse_args()
    asyncio.run(main(args.days, args.json))
