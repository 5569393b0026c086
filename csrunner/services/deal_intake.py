"""Client side of the HubSpot deal intake: what the webhook calls, and nothing more (the deal is
read from HubSpot by the intake workflow, on a worker, however long HubSpot is away)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy

from csrunner.config.settings import Settings
from csrunner.domain.deal_intake import DealIntakeInput, DealIntakeResult, intake_id
from csrunner.services.temporal import start_once
from workflows.deal_intake import DealIntakeWorkflow


async def start_deal_intake(
    client: Client, settings: Settings, portal_id: int | None, deal_id: str
) -> tuple[str, bool]:
    """(intake workflow id, whether this call started it), once Temporal has durably recorded the
    start. A deal already taken in (running, or finished without failing) is a no-op: HubSpot's
    redelivery never reads it twice; a failed intake may be started again."""
    return await start_once(
        client,
        DealIntakeWorkflow.run,
        DealIntakeInput(deal_id=deal_id, portal_id=portal_id),
        intake_id(portal_id, deal_id),
        settings.task_queue,
        WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    )


async def intake_result(client: Client, portal_id: int | None, deal_id: str) -> DealIntakeResult:
    """How the deal's intake ended (waits for it)."""
    handle = client.get_workflow_handle(intake_id(portal_id, deal_id), result_type=DealIntakeResult)
    return await handle.result()
