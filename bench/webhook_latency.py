"""Latency of the HTTP service on the embedded dev server, with the local fakes (SPEC §9).

  1. HubSpot webhook arrival → welcome email at the fake SendGrid (signed one-event batches
     arriving at --rate per second, at most 10 in flight like HubSpot's own throttling),
     p50/p99 over --deals deals;
  2. signed Slack click → the approved email's send at the fake SendGrid;
  3. the bare-Temporal baseline on the same server in the same run: workflow start → a no-op
     activity, and the ratio of each path to it.

    .venv/bin/python bench/webhook_latency.py [--deals 200] [--clicks 50] [--rate 5] [--workers 1]

Topology as in production: the service (`csr serve`) and --workers `csr worker` processes on one
task queue run as their own processes against the dev server; the fakes and the bare baseline run
in this one.

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from slack_sdk.signature import SignatureVerifier
from temporalio import activity, workflow
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "e2e")]

from e2e_helpers import HS_SECRET, SLACK_SECRET, account, free_port  # noqa: E402
from fakes import FakeHubSpot, FakeSendGrid, FakeSlack  # noqa: E402

from csrunner.config.catalog import load_catalog  # noqa: E402
from csrunner.config.settings import Settings  # noqa: E402
from csrunner.interfaces.web.hubspot import sign_v3  # noqa: E402
from csrunner.services.runs import start_run  # noqa: E402
from csrunner.services.temporal import dev_server_path  # noqa: E402
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTE_KEYS  # noqa: E402

PILOT = (ROOT / "tests" / "e2e" / "conftest.py").read_text().split('PILOT = """')[1].split('"""')[0]


class TimedSendGrid(FakeSendGrid):
    """The fake SendGrid, noting when each message for each recipient arrived."""

    def __init__(self):
        super().__init__()
        self.arrivals: dict[str, float] = {}

    async def _mail_send(self, request, raw):
        response = await super()._mail_send(request, raw)
        if response.status_code == 202:
            body = json.loads(raw)
            for p in body["personalizations"]:
                for r in p.get("to", []):
                    self.arrivals.setdefault(r["email"].lower(), time.monotonic())
        return response


async def wait_for(check, timeout=300.0):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise TimeoutError("timed out")
        await asyncio.sleep(0.002)
    return result


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values)) - 1))]


def line(name, ms):
    return (
        f"{name:<38} n={len(ms):<4} p50={pct(ms, 50):7.1f} ms  p99={pct(ms, 99):7.1f} ms  "
        f"mean={statistics.mean(ms):7.1f} ms  max={max(ms):7.1f} ms"
    )


async def paced(n, rate, one):
    """Start one() every 1/rate seconds (at most 10 in flight); wait for all."""
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(one(i)))
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*tasks)


async def hubspot_path(url, hs, sg, n, rate):
    for i in range(n):  # each deal: its company, champion and owner (María, a CSM in team.yaml)
        hs.add_company(10_000 + i, {"name": f"Bench Co {i}", "timezone": "Europe/Madrid"})
        hs.add_contact(
            20_000 + i,
            {
                "email": f"champion{i}@bench.example",
                "firstname": "Cham",
                "lastname": f"Pion{i}",
                "hs_buying_role": "CHAMPION",
            },
            company_id=10_000 + i,
        )
        hs.add_deal(
            30_000 + i,
            {"dealname": f"Bench deal {i}", "dealstage": "closedwon", "hubspot_owner_id": "501"},
            company_id=10_000 + i,
            contact_ids=[20_000 + i],
        )
    hs.add_owner(501, "maria@cs.example.com", "María", "García")
    gate, latencies, answers = asyncio.Semaphore(10), [], []  # HubSpot: at most 10 concurrent requests

    async def one(i):
        body = json.dumps(
            [
                {
                    "objectId": 30_000 + i,
                    "propertyName": "dealstage",
                    "propertyValue": "closedwon",
                    "changeSource": "CRM_UI",
                    "eventId": 900_000 + i,
                    "subscriptionId": 92894,
                    "portalId": 5799819,
                    "appId": 186886,
                    "occurredAt": int(time.time() * 1000),
                    "subscriptionType": "deal.propertyChange",
                    "attemptNumber": 0,
                }
            ]
        ).encode()
        async with gate:
            ts = str(int(time.time() * 1000))
            headers = {
                "Content-Type": "application/json",
                "X-HubSpot-Request-Timestamp": ts,
                "X-HubSpot-Signature-v3": sign_v3(HS_SECRET, "POST", f"{url}/webhooks/hubspot", body, ts),
            }
            t0 = time.monotonic()
            r = await http.post("/webhooks/hubspot", content=body, headers=headers)
            assert r.status_code == 200 and r.json()["started"], r.text
            answers.append((time.monotonic() - t0) * 1000)
        arrived = await wait_for(lambda: sg.arrivals.get(f"champion{i}@bench.example"))
        latencies.append((arrived - t0) * 1000)

    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        started = time.monotonic()
        await paced(n, rate, one)
    return latencies, answers, time.monotonic() - started


async def slack_path(url, client, settings, slack, sg, n):
    d = Path(tempfile.mkdtemp())
    (d / "pilot.yaml").write_text(PILOT)
    catalog = load_catalog(d, ROOT / "email_templates")
    latencies = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for i in range(n):
            acct = account(f"bench-click-{i}")
            acct = acct.model_copy(
                update={
                    "contacts": [
                        c.model_copy(update={"email": f"click{i}@bench.example"}) for c in acct.contacts
                    ]
                }
            )
            wid, _ = await start_run(
                client, settings, catalog, acct, "pilot-approval", workflow_id=f"bench:{acct.id}"
            )
            value = f"{wid}|day4-approve"
            msg = await wait_for(
                lambda: next((m for m in slack.messages if value in json.dumps(m["blocks"] or [])), None)
            )
            payload = {
                "type": "block_actions",
                "user": {"id": "U01MARIA"},
                "response_url": "",
                "container": {"type": "message", "channel_id": msg["channel"], "message_ts": msg["ts"]},
                "message": {"ts": msg["ts"], "blocks": msg["blocks"], "text": msg["text"]},
                "actions": [{"action_id": "approve", "value": value, "type": "button"}],
            }
            body = str(httpx.QueryParams({"payload": json.dumps(payload)})).encode()
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": SignatureVerifier(SLACK_SECRET).generate_signature(
                    timestamp=ts, body=body
                ),
            }
            t0 = time.monotonic()
            r = await http.post("/slack/interactions", content=body, headers=headers)
            assert r.status_code == 200, r.text
            arrived = await wait_for(lambda: sg.arrivals.get(f"click{i}@bench.example"))
            latencies.append((arrived - t0) * 1000)
    return latencies


# --- bare Temporal: a workflow start and one no-op activity ---------------------------------
DONE: dict[str, float] = {}


@activity.defn
async def noop(key: str) -> None:
    DONE[key] = time.monotonic()


@workflow.defn
class Bare:
    @workflow.run
    async def run(self, key: str) -> None:
        await workflow.execute_activity(noop, key, start_to_close_timeout=timedelta(seconds=30))


async def bare_path(client, n, rate):
    queue, gate, latencies = f"bare-{uuid.uuid4().hex[:6]}", asyncio.Semaphore(10), []
    async with Worker(
        client,
        task_queue=queue,
        workflows=[Bare],
        activities=[noop],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):

        async def one(i):
            key = f"bare-{i}-{uuid.uuid4().hex[:6]}"
            async with gate:
                t0 = time.monotonic()
                await client.start_workflow(Bare.run, key, id=key, task_queue=queue)
            latencies.append((await wait_for(lambda: DONE.get(key)) - t0) * 1000)

        started = time.monotonic()
        await paced(n, rate, one)
    return latencies, time.monotonic() - started


def spawn(args: list[str], env: dict) -> subprocess.Popen:
    csr = str(Path(sys.executable).parent / "csr")
    return subprocess.Popen([csr, *args], env={**os.environ, **env}, stdout=subprocess.DEVNULL)


async def main(deals: int, clicks: int, rate: float, workers: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="bench-"))
    async with await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTE_KEYS,
        dev_server_existing_path=dev_server_path(),
        dev_server_log_level="error",
    ) as env:
        with TimedSendGrid() as sg, FakeSlack() as slack, FakeHubSpot() as hs:
            port = free_port()
            env_vars = {
                "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
                "DATA_DIR": str(data),
                "TASK_QUEUE": "bench",
                "TEAM_FILE": str(ROOT / "team.yaml"),
                "SENDGRID_API_KEY": "SG.test-key",
                "MAIL_FROM": "success@example.com",  # required with a SendGrid key
                "SENDGRID_API_HOST": sg.url,
                "SLACK_BOT_TOKEN": "xoxb-test-token",
                "SLACK_API_URL": f"{slack.url}/api/",
                "HUBSPOT_API_URL": hs.url,
                "HUBSPOT_ACCESS_TOKEN": "hs-test-token",
                "HUBSPOT_CLIENT_SECRET": HS_SECRET,
                "SLACK_SIGNING_SECRET": SLACK_SECRET,
                "METRICS_PORT": "0",
            }
            settings = Settings(
                temporal_address=env_vars["TEMPORAL_ADDRESS"],
                data_dir=data,
                task_queue="bench",
                team_file=ROOT / "team.yaml",
            )
            procs = [*(spawn(["worker"], env_vars) for _ in range(workers))]
            procs.append(spawn(["serve", "--port", str(port)], env_vars))
            url = f"http://127.0.0.1:{port}"
            try:
                async with httpx.AsyncClient() as http:

                    async def up():
                        try:
                            return (await http.get(f"{url}/healthz")).status_code == 200
                        except httpx.HTTPError:
                            return False

                    deadline = time.monotonic() + 30
                    while not await up():
                        assert time.monotonic() < deadline, "the service did not come up"
                        await asyncio.sleep(0.2)
                bare, bare_s = await bare_path(env.client, deals, rate)
                hub, answered, hub_s = await hubspot_path(url, hs, sg, deals, rate)
                click = await slack_path(url, env.client, settings, slack, sg, clicks)
            finally:
                for p in procs:
                    p.terminate()
                    p.wait(timeout=20)
    print(
        f"{deals} deals at {rate:g}/s, {clicks} clicks one at a time; the service and {workers} "
        "worker(s) in their own processes"
    )
    print(line("HubSpot webhook -> welcome email", hub))
    print(line("HubSpot webhook -> 200 answered", answered))
    print(line("Slack click -> approved email sent", click))
    print(line("bare Temporal start -> no-op activity", bare))
    print(f"wall time: {hub_s:.1f} s for the deals vs {bare_s:.1f} s bare (ratio {bare_s / hub_s:.2f})")
    print(
        f"p50 ratio to bare: webhook {pct(hub, 50) / pct(bare, 50):.1f}x, click {pct(click, 50) / pct(bare, 50):.1f}x; "
        f"target webhook p99 < 1000 ms: {'met' if pct(hub, 99) < 1000 else 'NOT met'}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deals", type=int, default=200)
    parser.add_argument("--clicks", type=int, default=50)
    parser.add_argument("--rate", type=float, default=5.0, help="deals (and bare starts) per second")
    parser.add_argument("--workers", type=int, default=1, help="`csr worker` processes on the task queue")
    args = parser.parse_args()
    asyncio.run(main(args.deals, args.clicks, args.rate, args.workers))
