"""HubSpot down when a deal closes, on the dev server: the webhook answers 2xx once the deal's
intake workflow exists, the intake reads the deal when HubSpot is back and starts the journey
(one welcome email, however often HubSpot redelivers); a deal that cannot become an account is a
task card for a person and no journey."""

from __future__ import annotations

import uuid

import httpx
import pytest
from e2e_helpers import eventually
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from test_service_webhooks import REAL_EVENT, batch, seed, signed

from activities.outbox import file_name
from csrunner.domain.deal_intake import DealIntakeResult, intake_id
from csrunner.services.journeys import journey_id

PORTAL = REAL_EVENT["portalId"]


async def _deliver(stack, deal: int, attempt: int = 0) -> dict:
    body = batch(deal, attempt)
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        r = await http.post("/webhooks/hubspot", content=body, headers=signed(stack.url, body))
    assert r.status_code == 200, r.text
    return r.json()


async def _runs(client, wid: str) -> int:
    return len([w async for w in client.list_workflows(f"WorkflowId = '{wid}'")])


async def test_hubspot_down_the_deal_waits_in_its_intake_and_starts_the_journey_once(stack):
    deal, account_id, email = seed(stack.hubspot)
    wid = intake_id(PORTAL, str(deal))
    stack.hubspot.fail_next(503, times=10_000)  # HubSpot down for every read until reset()
    try:
        out = await _deliver(stack, deal)
        assert [s["workflow_id"] for s in out["started"]] == [wid] and out["duplicates"] == []
        intake = stack.client.get_workflow_handle(wid, result_type=DealIntakeResult)
        assert (await intake.describe()).status == WorkflowExecutionStatus.RUNNING  # durable before the 2xx

        def refused() -> bool:
            return any(f"/deals/{deal}" in q.path and q.status == 503 for q in stack.hubspot.requests)

        await eventually(refused)
        again = await _deliver(stack, deal, attempt=1)  # HubSpot's redelivery while it is still down
        assert again["started"] == [] and [d["workflow_id"] for d in again["duplicates"]] == [wid]
        with pytest.raises(RPCError):
            await stack.client.get_workflow_handle(journey_id(account_id)).describe()
    finally:
        stack.hubspot.reset()  # HubSpot is back: the intake's next attempt reads the deal

    result = await intake.result()
    assert result.outcome == "started" and result.journey_id == journey_id(account_id)
    await eventually(lambda: stack.sendgrid.messages_to(email), timeout=30)
    late = await _deliver(stack, deal, attempt=2)  # after the intake finished: still nothing new
    assert [d["workflow_id"] for d in late["duplicates"]] == [wid]
    assert await _runs(stack.client, wid) == 1
    assert await _runs(stack.client, journey_id(account_id)) == 1
    assert len(stack.sendgrid.messages_to(email)) == 1
    await stack.client.get_workflow_handle(journey_id(account_id)).terminate("test done")


async def test_a_deal_without_a_contact_becomes_a_task_and_no_journey(stack):
    deal = uuid.uuid4().int % 10**8
    stack.hubspot.add_owner(501, "maria@cs.example.com", "María", "García")
    stack.hubspot.add_company(deal, {"name": f"Customer {deal}"})  # nobody to write to
    stack.hubspot.add_deal(
        deal, {"dealname": "No contact", "dealstage": "closedwon", "hubspot_owner_id": "501"}, company_id=deal
    )
    await _deliver(stack, deal)
    handle = stack.client.get_workflow_handle(intake_id(PORTAL, str(deal)), result_type=DealIntakeResult)
    result = await handle.result()
    assert result.outcome == "needs_attention" and "no associated contact with an email" in result.problem
    card = stack.settings.outbox_dir / "tasks" / file_name(result.task, ".md")
    text = card.read_text()
    assert f"HubSpot deal {deal}" in text and "Carlos Ruiz" in text  # team.yaml's manager (no DEFAULT_CSM)
    assert "no associated contact with an email" in text
    with pytest.raises(RPCError):
        await stack.client.get_workflow_handle(journey_id(f"hubspot-{deal}")).describe()
