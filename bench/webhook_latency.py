"""Latency of the HTTP service on the embedded dev server, with the local fakes (SPEC §9).

  1. HubSpot webhook arrival → welcome email at the fake SendGrid (signed batches, at most 10
     in flight like HubSpot's own throttling), p50/p99 over --deals deals;
  2. signed Slack click → the approved email's send at the fake SendGrid;
  3. the bare-Temporal baseline on the same server in the same run: workflow start → a no-op
     activity, and the ratio of each path to it.

    .venv/bin/python bench/webhook_latency.py [--deals 200] [--clicks 50]

Not part of the test suite.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
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

from csrunner.catalog import load_catalog  # noqa: E402
from csrunner.config import Settings  # noqa: E402
from csrunner.runs import start_run  # noqa: E402
from csrunner.service.app import create_app  # noqa: E402
from csrunner.service.hubspot import sign_v3  # noqa: E402
from csrunner.temporal import SEARCH_ATTRIBUTE_KEYS, dev_server_path  # noqa: E402
from e2e_helpers import HS_SECRET, SLACK_SECRET, ServiceThread, account, service_config  # noqa: E402
from fakes import FakeHubSpot, FakeSendGrid, FakeSlack  # noqa: E402

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
    return (f"{name:<38} n={len(ms):<4} p50={pct(ms, 50):7.1f} ms  p99={pct(ms, 99):7.1f} ms  "
            f"mean={statistics.mean(ms):7.1f} ms  max={max(ms):7.1f} ms")


async def hubspot_path(url, hs, sg, n):
    for i in range(n):  # each deal: its company, champion and owner (María, a CSM in team.yaml)
        hs.add_company(10_000 + i, {"name": f"Bench Co {i}", "timezone": "Europe/Madrid"})
        hs.add_contact(20_000 + i, {"email": f"champion{i}@bench.example", "firstname": "Cham", "lastname": f"Pion{i}",
                                    "hs_buying_role": "CHAMPION"}, company_id=10_000 + i)
        hs.add_deal(30_000 + i, {"dealname": f"Bench deal {i}", "dealstage": "closedwon", "hubspot_owner_id": "501"},
                    company_id=10_000 + i, contact_ids=[20_000 + i])
    hs.add_owner(501, "maria@cs.example.com", "María", "García")
    gate, latencies, answers = asyncio.Semaphore(10), [], []

    async def one(http, i):
        body = json.dumps([{"objectId": 30_000 + i, "propertyName": "dealstage", "propertyValue": "closedwon",
                            "changeSource": "CRM_UI", "eventId": 900_000 + i, "subscriptionId": 92894,
                            "portalId": 5799819, "appId": 186886, "occurredAt": int(time.time() * 1000),
                            "subscriptionType": "deal.propertyChange", "attemptNumber": 0}]).encode()
        async with gate:
            ts = str(int(time.time() * 1000))
            headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": ts,
                       "X-HubSpot-Signature-v3": sign_v3(HS_SECRET, "POST", f"{url}/webhooks/hubspot", body, ts)}
            t0 = time.monotonic()
            r = await http.post("/webhooks/hubspot", content=body, headers=headers)
            assert r.status_code == 200 and r.json()["started"], r.text
            answers.append((time.monotonic() - t0) * 1000)
        arrived = await wait_for(lambda: sg.arrivals.get(f"champion{i}@bench.example"))
        latencies.append((arrived - t0) * 1000)

    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        started = time.monotonic()
        await asyncio.gather(*(one(http, i) for i in range(n)))
    return latencies, answers, time.monotonic() - started


async def slack_path(url, client, settings, slack, sg, n):
    d = Path(tempfile.mkdtemp())
    (d / "pilot.yaml").write_text(PILOT)
    catalog = load_catalog(d, ROOT / "email_templates")
    latencies = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for i in range(n):
            acct = account(f"bench-click-{i}")
            acct = acct.model_copy(update={"contacts": [c.model_copy(update={"email": f"click{i}@bench.example"})
                                                        for c in acct.contacts]})
            wid, _ = await start_run(client, settings, catalog, acct, "pilot-approval", workflow_id=f"bench:{acct.id}")
            value = f"{wid}|day4-approve"
            msg = await wait_for(lambda: next((m for m in slack.messages if value in json.dumps(m["blocks"] or [])), None))
            payload = {"type": "block_actions", "user": {"id": "U01MARIA"}, "response_url": "",
                       "container": {"type": "message", "channel_id": msg["channel"], "message_ts": msg["ts"]},
                       "message": {"ts": msg["ts"], "blocks": msg["blocks"], "text": msg["text"]},
                       "actions": [{"action_id": "approve", "value": value, "type": "button"}]}
            body = str(httpx.QueryParams({"payload": json.dumps(payload)})).encode()
            ts = str(int(time.time()))
            headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
                       "X-Slack-Signature": SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=ts, body=body)}
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


async def bare_path(client, n):
    queue, gate, latencies = f"bare-{uuid.uuid4().hex[:6]}", asyncio.Semaphore(10), []
    async with Worker(client, task_queue=queue, workflows=[Bare], activities=[noop],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        async def one(i):
            key = f"bare-{i}-{uuid.uuid4().hex[:6]}"
            async with gate:
                t0 = time.monotonic()
                await client.start_workflow(Bare.run, key, id=key, task_queue=queue)
            latencies.append((await wait_for(lambda: DONE.get(key)) - t0) * 1000)
        started = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(n)))
    return latencies, time.monotonic() - started


async def main(deals: int, clicks: int) -> None:
    import worker as worker_module
    data = Path(tempfile.mkdtemp(prefix="bench-"))
    async with await WorkflowEnvironment.start_local(
            data_converter=pydantic_data_converter, search_attributes=SEARCH_ATTRIBUTE_KEYS,
            dev_server_existing_path=dev_server_path(), dev_server_log_level="error") as env:
        with TimedSendGrid() as sg, FakeSlack() as slack, FakeHubSpot() as hs:
            settings = Settings(temporal_address=env.client.service_client.config.target_host, data_dir=data,
                                task_queue="bench", team_file=ROOT / "team.yaml", sendgrid_api_key="SG.test-key",
                                sendgrid_api_host=sg.url, slack_bot_token="xoxb-test-token",
                                slack_api_url=f"{slack.url}/api/")
            worker = worker_module.build_worker(env.client, settings)
            task = asyncio.create_task(worker.run())
            try:
                with ServiceThread(create_app(settings, config=service_config(hs.url))) as service:
                    bare, bare_s = await bare_path(env.client, deals)
                    hub, answered, hub_s = await hubspot_path(service.url, hs, sg, deals)
                    click = await slack_path(service.url, env.client, settings, slack, sg, clicks)
            finally:
                await worker.shutdown()
                await asyncio.gather(task, return_exceptions=True)
    print(line("HubSpot webhook -> welcome email", hub))
    print(line("HubSpot webhook -> 200 answered", answered))
    print(line("Slack click -> approved email sent", click))
    print(line("bare Temporal start -> no-op activity", bare))
    print(f"throughput: {deals / hub_s:.1f} journeys/s through the webhook vs {deals / bare_s:.1f} bare workflows/s "
          f"(ratio {bare_s / hub_s:.2f}; 10 requests in flight)")
    print(f"ratio to bare p50: webhook {pct(hub, 50) / pct(bare, 50):.1f}x, click {pct(click, 50) / pct(bare, 50):.1f}x; "
          f"target p99 < 1000 ms: {'met' if pct(hub, 99) < 1000 else 'NOT met'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=200)
    parser.add_argument("--clicks", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.deals, args.clicks))
