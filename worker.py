"""Wires workflows and activities into a Temporal worker. Run alone with `csr worker`."""

from __future__ import annotations

import asyncio
import sys
from asyncio import FIRST_COMPLETED
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.account_rows import AccountRowActivities
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
from csrunner.services.shutdown import on_stop_signals, run_and_exit
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
    journey = JourneyActivities(settings, ledger)
    rows = AccountRowActivities(ledger)
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
        rows.publish,
        hubspot.deal_account,
        hubspot.intake_task,
        intake.deal_closed,
    ]


#: Pure data modules the sandbox (WORKFLOW_SANDBOX=1) shares between runs instead of re-importing
#: them for each (they hold no state and do no I/O when imported by workflows).
PASSTHROUGH = ("pydantic", "pydantic_core", "annotated_types", "typing_inspection", "csrunner")


def workflow_runner(settings: Settings) -> WorkflowRunner:
    """Workflow code runs outside Temporal's sandbox by default: the sandbox re-imports the
    workflow modules for every new run and crosses into them for every payload: a sixth of the
    worker's CPU per journey update, more per new run (README "Performance"). What it would
    guard is guarded statically instead (tests/test_architecture.py: workflow code calls no
    clock, randomness or I/O but Temporal's) and by replaying recorded histories.
    WORKFLOW_SANDBOX=1 turns it back on."""
    if not settings.workflow_sandbox:
        return UnsandboxedWorkflowRunner()
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )


def build_worker(client: Client, settings: Settings | None = None, **options) -> Worker:
    settings = settings or Settings()
    options.setdefault("workflow_runner", workflow_runner(settings))
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=activities_for(settings),
        activity_executor=ThreadPoolExecutor(max_workers=32),
        **options,
    )


async def main() -> None:
    """`csr worker`: runs until SIGTERM or SIGINT, then stops polling, gives running activities
    WORKER_SHUTDOWN_GRACE seconds to finish (they see a cancellation only after that) and returns;
    a second signal exits at once."""
    settings = or_exit(worker_settings)  # bad configuration: one line each, before connecting
    stopping = asyncio.Event()
    on_stop_signals(stopping.set)
    from csrunner.services.checks import check_all  # refuse to run on broken playbooks or templates
    from csrunner.services.telemetry import configure_logging

    configure_logging(settings, settings.metrics_port)  # the client below is built on its runtime
    _, problems = check_all(settings)
    if problems:
        sys.exit("invalid playbooks or templates, worker not started:\n" + "\n".join(problems))
    grace = settings.worker_shutdown_grace
    worker = build_worker(
        await connect(settings), settings, graceful_shutdown_timeout=timedelta(seconds=grace)
    )
    print(f"worker on task queue '{settings.task_queue}' at {settings.temporal_address}", flush=True)
    running = asyncio.create_task(worker.run())
    await asyncio.wait([running, asyncio.create_task(stopping.wait())], return_when=FIRST_COMPLETED)
    if not running.done():
        print(f"stopping: no new work; running activities get up to {grace:g} s", flush=True)
        await worker.shutdown()
    await running  # a worker that failed on its own says why
    print("worker stopped", flush=True)


if __name__ == "__main__":
    run_and_exit(main)  # see csrunner.services.shutdown: no finalization with the runtime's threads
