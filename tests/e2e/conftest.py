"""End-to-end fixtures: Temporal's real dev server (one per session), a worker pointed at the
fake SendGrid and Slack, and the HTTP service served by uvicorn on a real socket in its own
thread (it connects to Temporal lazily, as in production)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import pytest_asyncio
from e2e_helpers import FakeHubSpot, FakeSendGrid, FakeSlack, ServiceThread, Stack, service_config
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from csrunner.config.catalog import load_catalog
from csrunner.config.settings import REPO_ROOT, Settings
from csrunner.interfaces.web.app import create_app
from csrunner.services.temporal import dev_server_path
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTE_KEYS


@pytest_asyncio.fixture(scope="session")
async def stack(tmp_path_factory):
    import worker as worker_module

    data = tmp_path_factory.mktemp("e2e")
    async with await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTE_KEYS,
        dev_server_existing_path=dev_server_path(),
        ui=False,
        dev_server_log_level="error",
    ) as env:
        with FakeSendGrid() as sg, FakeSlack() as slack, FakeHubSpot() as hs:
            settings = Settings(
                temporal_address=env.client.service_client.config.target_host,
                data_dir=data,
                task_queue=f"e2e-{uuid.uuid4().hex[:8]}",
                team_file=REPO_ROOT / "team.yaml",
                sendgrid_api_key="SG.test-key",
                sendgrid_api_host=sg.url,
                slack_bot_token="xoxb-test-token",
                slack_api_url=f"{slack.url}/api/",
                hubspot_api_url=hs.url,  # the worker's deal intakes read the fake HubSpot
                hubspot_access_token="hs-test-token",
            )
            config = service_config()
            worker = worker_module.build_worker(env.client, settings)
            task = asyncio.create_task(worker.run())
            try:
                with ServiceThread(create_app(settings, config=config)) as service:
                    yield Stack(env, settings, config, service, sg, slack, hs)
            finally:
                await worker.shutdown()
                await asyncio.gather(task, return_exceptions=True)


# The dev server does not skip time: onboarding's day-4 approval and its email, on day 0.
PILOT = """
id: pilot-approval
name: Day-4 pilot approval, on day 0 (test)
steps:
  - {id: day4-approve, kind: approval, title: Approve the campaign-review email to the champion,
     approver: csm, gates: day4-pilot-review, deadline: {hours: 24, then: escalate, escalate_to: [manager, executive]}}
  - {id: day4-pilot-review, kind: email, to: champion, template: onboarding_pilot_review}
"""


@pytest.fixture(scope="session")
def pilot_catalog(tmp_path_factory):
    d = tmp_path_factory.mktemp("playbooks")
    (d / "pilot.yaml").write_text(PILOT)
    return load_catalog(d, REPO_ROOT / "email_templates")
