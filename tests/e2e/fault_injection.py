"""Fault injection on the real dev server, counted at the fakes (tests/e2e/test_faults.py runs a
bounded plan, bench/faults.py the full one): `runs` fast onboardings (fast_playbooks/) on `workers`
`csr worker` processes, while random workers are SIGKILLed and restarted, the dev server is
SIGKILLed and restarted on its database file, SendGrid answers 429s, then 500s for a while, one
recipient answers 400, and Slack answers one 429 with Retry-After. The tally (fault_tally.py) says
what arrived where, how often."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from fakes import FakeSendGrid, FakeSlack
from fault_stack import DevServer, WorkerPool, worker_environ
from fault_tally import Expected, Tally, tally
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from csrunner.config.accounts import load_account, load_team
from csrunner.config.catalog import load_catalog
from csrunner.config.settings import REPO_ROOT, Settings
from csrunner.domain.messages import Account, Contact, RunView
from csrunner.services.runs import start_run

PLAYBOOK = "fault-onboarding"
FAST_PLAYBOOK = Path(__file__).parent / "fast_playbooks" / f"{PLAYBOOK}.yaml"


@dataclass(frozen=True)
class FaultPlan:
    runs: int = 200
    workers: int = 3
    kills: int = 20
    server_restart_at: float = 0.3  # share of the emails delivered when the dev server is killed
    server_down_for: float = 3.0
    sendgrid_faults_at: float = 0.1  # share of the emails delivered when SendGrid starts failing
    rate_limited: int = 5  # 429s (with SendGrid's rate-limit headers) before the outage
    outage_seconds: float = 60.0  # then 500s for this long
    slack_retry_after: int = 3  # the first Slack post answers 429 with this Retry-After
    timeout: float = 1200.0  # seconds for every run to complete
    seed: int = 12


@dataclass
class FaultRun:
    plan: FaultPlan
    tally: Tally
    kills: int = 0
    worker_exits: int = 0  # workers that died by themselves (e.g. while the server was down)
    server_restarts: int = 0
    wall_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        missed = []
        if self.kills < self.plan.kills:
            missed.append(f"only {self.kills} of {self.plan.kills} worker kills happened before the end")
        if self.server_restarts < 1:
            missed.append("the dev server was not restarted")
        return self.tally.problems + missed

    def table(self) -> str:
        t, rows = self.tally, []
        rows += [("runs started / completed", f"{t.runs_started} / {t.runs_completed}")]
        rows += [("emails expected / delivered once", f"{t.emails_expected} / {t.emails_once}")]
        rows += [("emails lost / duplicated", f"{t.emails_lost} / {t.emails_duplicated}")]
        rows += [("emails refused (400) → CSM task", f"{t.emails_refused} → {t.fix_tasks}")]
        rows += [
            (
                "emails unknown outcome → check task (had arrived)",
                f"{t.unknown_to_task} ({t.unknown_had_arrived})",
            )
        ]
        rows += [
            (
                "tasks expected / found / recorded twice",
                f"{t.tasks_expected} / {t.tasks_found} / {t.tasks_twice}",
            )
        ]
        rows += [
            (
                "Slack expected / delivered / re-sent",
                f"{t.slack_expected} / {t.slack_delivered} / {t.slack_resent}",
            )
        ]
        rows += [("worker SIGKILLs / self-exits", f"{self.kills} / {self.worker_exits}")]
        rows += [("dev server SIGKILL + restarts", str(self.server_restarts))]
        rows += [("SendGrid 429 / 500 / 400 answered", f"{t.sg_429} / {t.sg_500} / {t.sg_400}")]
        rows += [("SendGrid retries before X-RateLimit-Reset", str(t.sg_429_early))]
        rows += [("Slack 429 answered; retried after (Retry-After)", f"{t.slack_429}; {t.slack_retry_wait}")]
        rows += [("wall time", f"{self.wall_seconds:.0f} s")]
        width = max(len(k) for k, _ in rows)
        lines = [f"{k:<{width}}  {v}" for k, v in rows]
        return "\n".join(
            lines + [f"PROBLEM: {p}" for p in self.problems] + [f"note: {n}" for n in self.notes]
        )


def accounts(n: int) -> tuple[list[Account], str]:
    """n accounts with their own contacts; one executive sponsor's address SendGrid refuses."""
    base = load_account(REPO_ROOT / "examples" / "acme.yaml", load_team(REPO_ROOT / "team.yaml"))
    out = []
    for i in range(n):
        out.append(
            base.model_copy(
                update={
                    "id": f"fault-{i:03d}",
                    "name": f"Fault Co {i:03d}",
                    "locale": "en",
                    "contacts": [
                        Contact(name=f"Champ {i:03d}", email=f"champ@fault-{i:03d}.example", role="champion"),
                        Contact(
                            name=f"Spon {i:03d}",
                            email=f"sponsor@fault-{i:03d}.example",
                            role="executive_sponsor",
                        ),
                    ],
                }
            )
        )
    return out, f"sponsor@fault-{n // 2:03d}.example"


async def run_faults(plan: FaultPlan, work: Path, progress=None) -> FaultRun:
    t0 = time.monotonic()
    say = progress or (lambda line: None)
    queue, data = f"faults-{uuid.uuid4().hex[:8]}", work / "data"
    data.mkdir(parents=True, exist_ok=True)
    server = DevServer(work / "temporal.db", work / "temporal.log")
    client = await server.start()
    accts, refused = accounts(plan.runs)
    playbooks = work / "playbooks"  # the product's playbooks (facts, scoring) and the fast one
    shutil.copytree(REPO_ROOT / "playbooks", playbooks, dirs_exist_ok=True)
    shutil.copy(FAST_PLAYBOOK, playbooks)
    catalog = load_catalog(playbooks, REPO_ROOT / "email_templates")
    expected = Expected.of(catalog.definitions[PLAYBOOK], accts, accts[plan.runs // 2].id)
    with FakeSendGrid() as sg, FakeSlack() as slack:
        sg.reject_address(refused)
        slack.fail_next(429, retry_after=plan.slack_retry_after)
        environ = worker_environ(server, queue, data, playbooks, sg.url, slack.url)
        pool = WorkerPool(plan.workers, environ, work, plan.seed)
        supervisor = asyncio.create_task(pool.supervise())
        result = FaultRun(plan, Tally())
        try:
            settings = Settings(
                temporal_address=server.address, task_queue=queue, data_dir=data, playbooks_dir=playbooks
            )
            for chunk in range(0, len(accts), 50):
                await asyncio.gather(
                    *(start_run(client, settings, catalog, a, PLAYBOOK) for a in accts[chunk : chunk + 50])
                )
            say(f"{len(accts)} runs started on {plan.workers} workers ({time.monotonic() - t0:.0f} s)")
            faults = asyncio.create_task(_inject(plan, pool, server, sg, slack, expected, say))
            waiting = asyncio.create_task(_wait_closed(client, queue, len(accts), plan.timeout, sg, say, t0))
            await asyncio.wait([waiting, supervisor], return_when=asyncio.FIRST_COMPLETED)
            if supervisor.done():  # the workers cannot start: say why rather than wait for the timeout
                waiting.cancel()
                supervisor.result()
            views = waiting.result()
            if not faults.done():
                result.notes.append("all runs completed before every planned fault was injected")
            faults.cancel()
            await asyncio.gather(faults, return_exceptions=True)
            await asyncio.sleep(2.0)  # a message sent twice would arrive now
        finally:
            supervisor.cancel()
            pool.stop()
            server.kill()
        result.kills, result.worker_exits, result.server_restarts = pool.kills, pool.exits, server.restarts
        result.tally = tally(expected, views, sg, slack, data / "outbox" / "tasks", plan.slack_retry_after)
        result.wall_seconds = time.monotonic() - t0
        return result


async def _inject(
    plan: FaultPlan,
    pool: WorkerPool,
    server: DevServer,
    sg: FakeSendGrid,
    slack: FakeSlack,
    exp: Expected,
    say,
) -> None:
    """Worker kills at random moments of the work: at random counts of calls reaching the fakes
    (failed ones included, so kills go on through SendGrid's outage), within the first 90% of the
    messages; SendGrid's bad minute and the server restart when their share of emails is delivered."""
    rnd, sg_failing, restarted, emails = pool.random, False, False, len(exp.emails)
    messages = emails + sum(exp.slack.values())
    at = sorted(rnd.uniform(0.02, 0.9) * messages for _ in range(plan.kills))
    while pool.kills < plan.kills or not (sg_failing and restarted):
        await asyncio.sleep(0.2)
        delivered = len(sg.messages) / max(1, emails)
        if not sg_failing and delivered >= plan.sendgrid_faults_at:
            sg.fail_next(429, times=plan.rate_limited)
            sg.fail_for(500, seconds=plan.outage_seconds)
            sg_failing = True
            say(f"SendGrid: {plan.rate_limited} × 429, then 500s for {plan.outage_seconds:.0f} s")
        if not restarted and delivered >= plan.server_restart_at:
            say("dev server: SIGKILL")
            await server.restart(plan.server_down_for)
            restarted = True
            say("dev server: restarted on the same database file")
        if pool.kills < plan.kills and len(sg.requests) + len(slack.requests) >= at[pool.kills]:
            pool.kill_random()
            say(f"worker SIGKILL {pool.kills}/{plan.kills} (emails delivered: {len(sg.messages)}/{emails})")


async def _wait_closed(
    client: Client, queue: str, n: int, timeout: float, sg: FakeSendGrid, say, t0: float
) -> dict[str, RunView | None]:
    """Each run's final view once it has closed (None if it failed); RPCs that fail while the server
    is down are tried again."""
    views: dict[str, RunView | None] = {}
    deadline, last = time.monotonic() + timeout, 0.0
    while len(views) < n and time.monotonic() < deadline:
        try:
            async for w in client.list_workflows(f"TaskQueue = '{queue}' AND ExecutionStatus != 'Running'"):
                if w.id not in views:
                    try:
                        views[w.id] = await client.get_workflow_handle(w.id, result_type=RunView).result()
                    except WorkflowFailureError:
                        views[w.id] = None
        except RPCError:
            pass  # the server is restarting
        if time.monotonic() - last > 10:
            last = time.monotonic()
            say(
                f"{time.monotonic() - t0:4.0f} s: {len(views)}/{n} runs closed, {len(sg.messages)} emails delivered"
            )
        await asyncio.sleep(1.0)
    return views
