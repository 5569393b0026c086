"""Wires workflows and activities into a Temporal worker. Run alone with `csr worker`."""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.email import EmailActivities
from activities.hubspot import HubSpotActivities
from activities.journey import JourneyActivities
from activities.journey_start import JourneyStartActivities
from activities.render import Renderer
from activities.schedule import plan_schedule
from activities.slack import SlackActivities
from activities.store import open_ledger
from activities.tasks import TaskActivities
from csrunner.config.settings import Settings
from csrunner.config.startup import or_exit, worker_settings
from csrunner.services.journeys import deal_closed
from csrunner.services.temporal import connect
from workflows.deal_intake import DealIntakeWorkflow
from workflows.journey import AccountJourneyWorkflow
from workflows.playbook import PlaybookWorkflow

WORKFLOWS = [PlaybookWorkflow, AccountJourneyWorkflow, DealIntakeWorkflow]


def activities_for(settings: Settings) -> list:
    renderer = Renderer(settings.templates_dir)
    ledger = open_ledger(settings)
    email = EmailActivities(settings, renderer, ledger)
    slack = SlackActivities(settings, renderer, ledger)
    tasks = TaskActivities(settings, ledger)
    journey = JourneyActivities(settings)
    hubspot = HubSpotActivities(settings)
    intake = JourneyStartActivities(settings, deal_closed)  # the CLI's deal-closed, on the worker's client
    return [
        plan_schedule,
        email.render_email,
        email.send_email,
        email.resend_email,
        slack.post_slack,
        tasks.create_task,
        journey.decide,
        journey.decide_scores,
        journey.load_definitions,
        journey.load_scoring_model,
        hubspot.deal_account,
        hubspot.intake_task,
        intake.deal_closed,
    ]


#: Pure data modules the sandbox may share between runs instead of re-importing them for each
#: (they hold no state and do no I/O when imported by workflows). Workflow code stays sandboxed.
PASSTHROUGH = ("pydantic", "pydantic_core", "annotated_types", "typing_inspection", "csrunner")


def build_worker(client: Client, settings: Settings | None = None, **options) -> Worker:
    settings = settings or Settings()
    options.setdefault(
        "workflow_runner",
        SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
        ),
    )
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=activities_for(settings),
        activity_executor=ThreadPoolExecutor(max_workers=32),
        **options,
    )


async def main() -> None:
    settings = or_exit(worker_settings)  # bad configuration: one line each, before connecting
    from csrunner.services.checks import check_all  # refuse to run on broken playbooks or templates
    from csrunner.services.telemetry import configure_logging

    configure_logging(settings, settings.metrics_port)  # the client below is built on its runtime
    _, problems = check_all(settings)
    if problems:
        sys.exit("invalid playbooks or templates, worker not started:\n" + "\n".join(problems))
    worker = build_worker(await connect(settings), settings)
    print(f"worker on task queue '{settings.task_queue}' at {settings.temporal_address}", flush=True)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
