"""Many senders at once on the dev server: concurrent approvals of one step (one wins, the others
get 409 naming who did, none a 503), and a HubSpot batch whose deals are taken in at once, each starting its journey."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
from e2e_helpers import account, bearer, eventually
from test_service_webhooks import REAL_EVENT, batch, seed, signed

from csrunner.domain.deal_intake import DealIntakeResult, intake_id
from csrunner.services.journeys import journey_id
from csrunner.services.runs import start_run
from workflows.search_attributes import CSM_ID

NAMES = {"maria": "María García", "carlos": "Carlos Ruiz", "olga": "Olga Ops"}


async def test_concurrent_approvals_one_wins_the_others_hear_who(stack, pilot_catalog):
    acct = account()
    wid, _ = await start_run(
        stack.client, stack.settings, pilot_catalog, acct, "pilot-approval", workflow_id=f"race:{acct.id}"
    )
    await eventually(lambda: any(wid in str(m["blocks"]) for m in stack.slack.messages))

    async def csm_published() -> bool:  # the run names its CSM (the rights check reads it)
        desc = await stack.client.get_workflow_handle(wid).describe()
        return bool(desc.typed_search_attributes.get(CSM_ID))

    await eventually(csm_published)
    people = ["maria", "carlos", "olga"] * 10
    body = {"workflow_id": wid, "step_id": "day4-approve"}
    async with httpx.AsyncClient(base_url=stack.url, timeout=60) as http:
        answers = await asyncio.gather(
            *(http.post("/api/actions/approve", json=body, headers=bearer(p)) for p in people)
        )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] + [409] * 29, [r.text for r in answers if r.status_code not in (200, 409)]
    winner = next(p for p, r in zip(people, answers, strict=True) if r.status_code == 200)
    for r in answers:
        if r.status_code == 409:
            assert f"already approved by {NAMES[winner]} ({winner})" in r.json()["error"], r.text
    await eventually(lambda: [m for m in stack.sendgrid.messages if wid in json.dumps(m)])
    sent = [m for m in stack.sendgrid.messages if wid in json.dumps(m)]
    assert len(sent) == 1  # one approval, one email


async def test_a_hubspot_batch_takes_in_its_deals_and_each_starts_its_journey(stack):
    deals = [seed(stack.hubspot) for _ in range(6)]
    events = [e for deal, _, _ in deals for e in json.loads(batch(deal))]
    for i, e in enumerate(events):
        e["eventId"] = uuid.uuid4().int % 10**9 + i
    body = json.dumps(events).encode()
    async with httpx.AsyncClient(base_url=stack.url, timeout=60) as http:
        r = await http.post("/webhooks/hubspot", content=body, headers=signed(stack.url, body))
    assert r.status_code == 200, r.text
    started = sorted(s["workflow_id"] for s in r.json()["started"])
    assert started == sorted(intake_id(REAL_EVENT["portalId"], str(deal)) for deal, _, _ in deals)
    results = await asyncio.gather(
        *(stack.client.get_workflow_handle(w, result_type=DealIntakeResult).result() for w in started)
    )
    assert sorted(x.journey_id for x in results) == sorted(journey_id(a) for _, a, _ in deals)
    for x in results:
        await stack.client.get_workflow_handle(x.journey_id).terminate("test done")
