"""Workers run workflow code outside Temporal's sandbox by default (worker.workflow_runner: the
sandbox cost a sixth of a journey update's CPU, more for a new run); WORKFLOW_SANDBOX=1 turns it back on, and the
product still works there with the sandbox's checks on. Every Replayer in the suite replays in the
sandbox too."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest
from journey_support import Clock, account, journey_worker, settings_for
from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from csrunner.services import journeys
from worker import workflow_runner

pytestmark = pytest.mark.filterwarnings("ignore:Module .* was imported after initial workflow load")


def test_the_sandbox_is_off_unless_asked_for(tmp_path):
    assert isinstance(workflow_runner(settings_for(tmp_path)), UnsandboxedWorkflowRunner)
    on = settings_for(tmp_path).model_copy(update={"workflow_sandbox": True})
    assert isinstance(workflow_runner(on), SandboxedWorkflowRunner)


async def test_a_deal_starts_onboarding_and_the_welcome_goes_out_in_the_sandbox(env, tmp_path):
    settings = settings_for(tmp_path).model_copy(update={"workflow_sandbox": True})
    client, clock, acc = env.client, Clock(env), account("sandboxed")
    async with journey_worker(client, settings, acc.id):
        await clock.start()
        await journeys.deal_closed(client, settings, acc, "deal-sandboxed")
        await clock.to(0, 12)
        view = await journeys.journey_view(client, acc.id)
    assert [p.workflow_id for p in view.plays] == ["journey:sandboxed/onboarding/1"]
    welcome = list(
        (tmp_path / "outbox" / "email").glob("journey_sandboxed_onboarding_1_onboarding_day0-welcome*.eml")
    )
    assert len(welcome) == 1
    assert (
        BytesParser(policy=policy.default).parse(welcome[0].open("rb"))["to"]
        == "Ana López <ana@acme.example>"
    )
