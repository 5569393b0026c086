"""Deal closed → journey, on the dev server: HubSpot's signed batches (the real event shape) taken
in by an intake workflow, re-delivery, forged and stale signatures, and the generic CRM webhook."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from e2e_helpers import DEAL_TOKEN, HS_SECRET, eventually
from temporalio.service import RPCError

from csrunner.domain.deal_intake import DealIntakeResult, intake_id
from csrunner.interfaces.web.hubspot import sign_v3
from csrunner.services.journeys import journey_id

_SPEC = Path(__file__).resolve().parents[1] / "fakes" / "specs" / "hubspot_deal_propertychange_webhook.json"
REAL_EVENT = json.loads(_SPEC.read_text())["real_captured_event"]["event"]


def seed(hs) -> tuple[int, str, str]:
    """A closed-won deal in the fake HubSpot: (deal id, our account id, champion email)."""
    n = uuid.uuid4().int % 10**8
    email = f"champion{n}@customer.example"
    hs.add_owner(501, "maria@cs.example.com", "María", "García")
    hs.add_company(n, {"name": f"Customer {n}", "timezone": "Europe/Madrid", "hs_language": "es"})
    hs.add_contact(
        n,
        {"email": email, "firstname": "Carla", "lastname": "Champion", "hs_buying_role": "CHAMPION"},
        company_id=n,
    )
    hs.add_deal(
        n,
        {"dealname": f"Deal {n}", "dealstage": "closedwon", "hubspot_owner_id": "501"},
        company_id=n,
        contact_ids=[n],
    )
    return n, f"hubspot-{n}", email


def batch(deal_id: int, attempt: int = 0) -> bytes:
    """HubSpot's batch: our closed-won event (the real shape) among events we must ignore."""
    won = {
        **REAL_EVENT,
        "objectId": deal_id,
        "propertyValue": "closedwon",
        "attemptNumber": attempt,
        "eventId": deal_id + 1,
        "occurredAt": int(time.time() * 1000),
    }
    other_stage = {**won, "eventId": deal_id + 2, "propertyValue": "appointmentscheduled"}
    created = {k: v for k, v in won.items() if k not in ("propertyName", "propertyValue")}
    created.update(eventId=deal_id + 3, subscriptionType="deal.creation")
    return json.dumps([other_stage, won, created, won]).encode()  # HubSpot may repeat an event


def signed(url: str, body: bytes, age_ms: int = 0, secret: str = HS_SECRET) -> dict:
    ts = str(int(time.time() * 1000) - age_ms)
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": ts,
        "X-HubSpot-Signature-v3": sign_v3(secret, "POST", f"{url}/webhooks/hubspot", body, ts),
    }


async def _executions(client, wid: str) -> int:
    return len([w async for w in client.list_workflows(f"WorkflowId = '{wid}'")])


async def test_signed_batch_starts_one_journey_and_redelivery_starts_none(stack):
    deal, account_id, email = seed(stack.hubspot)
    intake = intake_id(REAL_EVENT["portalId"], str(deal))
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        body = batch(deal)
        r = await http.post("/webhooks/hubspot", content=body, headers=signed(stack.url, body))
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["received"] == 4 and out["ignored"] == 2 and out["duplicates"] == []
        assert [s["workflow_id"] for s in out["started"]] == [intake]  # the deal is durably taken in

        again = batch(deal, attempt=1)
        r = await http.post("/webhooks/hubspot", content=again, headers=signed(stack.url, again))
        assert r.status_code == 200 and r.json()["started"] == [], r.text
        assert [d["workflow_id"] for d in r.json()["duplicates"]] == [intake]
    result = await stack.client.get_workflow_handle(intake, result_type=DealIntakeResult).result()
    assert result.outcome == "started" and result.account_id == account_id and result.notes == []
    desc = await stack.client.get_workflow_handle(journey_id(account_id)).describe()
    assert desc.status.name == "RUNNING"
    assert await eventually(lambda: _executions(stack.client, journey_id(account_id))) == 1
    # The journey's onboarding sends the welcome email to the champion, once.
    await eventually(lambda: stack.sendgrid.messages_to(email), timeout=30)
    assert len(stack.sendgrid.messages_to(email)) == 1


async def test_an_unknown_time_zone_is_noted_in_the_intakes_result(stack):
    deal, account_id, _ = seed(stack.hubspot)
    stack.hubspot.add_company(deal, {"name": f"Customer {deal}", "timezone": "mars_slash_olympus"})
    body = batch(deal)
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        r = await http.post("/webhooks/hubspot", content=body, headers=signed(stack.url, body))
    assert r.status_code == 200, r.text
    intake = intake_id(REAL_EVENT["portalId"], str(deal))
    result = await stack.client.get_workflow_handle(intake, result_type=DealIntakeResult).result()
    assert result.notes == [
        f"deal {deal}: unknown time zone 'mars_slash_olympus' on the company: used UTC (HUBSPOT_DEFAULT_TIMEZONE)"
    ]
    await stack.client.get_workflow_handle(journey_id(account_id)).terminate("test done")


@pytest.mark.parametrize("kind", ["forged", "stale"])
async def test_forged_or_stale_signature_is_refused_and_starts_nothing(stack, kind):
    deal, account_id, _ = seed(stack.hubspot)
    body = batch(deal)
    headers = (
        signed(stack.url, body, secret="not-the-secret")
        if kind == "forged"
        else signed(stack.url, body, age_ms=5 * 60 * 1000 + 5000)
    )
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        r = await http.post("/webhooks/hubspot", content=body, headers=headers)
    assert r.status_code == 401 and ("bad signature" if kind == "forged" else "stale") in r.json()["error"]
    assert not any(f"/{deal}" in q.path for q in stack.hubspot.requests)  # not even read from the CRM
    with pytest.raises(RPCError):  # nor taken in
        await stack.client.get_workflow_handle(intake_id(REAL_EVENT["portalId"], str(deal))).describe()
    with pytest.raises(RPCError):
        await stack.client.get_workflow_handle(journey_id(account_id)).describe()


async def test_generic_deal_closed_webhook(stack):
    account_id = f"crm-{uuid.uuid4().hex[:8]}"
    body = {
        "deal_id": f"D-{account_id}",
        "account": {
            "id": account_id,
            "name": "Globex",
            "timezone": "America/New_York",
            "csm": "tom",
            "contacts": [{"name": "Gina Globex", "email": f"gina@{account_id}.example", "role": "champion"}],
        },
    }
    auth = {"Authorization": f"Bearer {DEAL_TOKEN}"}
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        assert (await http.post("/webhooks/deal-closed", json=body)).status_code == 401
        r = await http.post("/webhooks/deal-closed", json=body, headers=auth)
        assert r.status_code == 200 and r.json()["started"] is True, r.text
        assert r.json()["workflow_id"] == journey_id(account_id)
        r = await http.post("/webhooks/deal-closed", json=body, headers=auth)
        assert r.status_code == 200 and r.json()["started"] is False
    assert await _executions(stack.client, journey_id(account_id)) == 1
