"""An update that brings only account facts (no score, no metrics) is applied without asking the
`journey_decide_scores` activity (patch `journey-facts-without-decision`): there is nothing to
decide. A scored update still asks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from journey_support import account, journey_worker, settings_for
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from csrunner.services import journeys
from workflows.journey import AccountJourneyWorkflow

pytestmark = pytest.mark.filterwarnings("ignore:Module .* was imported after initial workflow load")


def decide_calls(history) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name.startswith("journey_decide")
    ]


async def test_an_update_with_only_facts_is_applied_without_a_decision(env, tmp_path):
    settings = settings_for(tmp_path)
    client, acc = env.client, account("facts-only")
    async with journey_worker(client, settings, acc.id):
        await journeys.deal_closed(client, settings, acc, "deal-facts-1")
        await env.sleep(timedelta(minutes=1))
        handle = client.get_workflow_handle(journeys.journey_id(acc.id))
        before = decide_calls(await handle.fetch_history())
        await journeys.push_score(client, settings, acc.id, facts={"revenue_generated": 48200}, source="crm")
        await env.sleep(timedelta(minutes=1))
        view = await journeys.journey_view(client, acc.id)
        assert view.facts == {"revenue_generated": 48200} and view.updates == 0 and view.rejected == 0
        assert decide_calls(await handle.fetch_history()) == before == ["journey_decide"]  # the deal's
        await journeys.push_score(client, settings, acc.id, score=88, facts={"revenue_generated": 51000})
        await env.sleep(timedelta(minutes=1))
        view = await journeys.journey_view(client, acc.id)
        assert (view.facts, view.updates, view.score) == ({"revenue_generated": 51000}, 1, 88.0)
        history = await handle.fetch_history()
        assert decide_calls(history) == ["journey_decide", "journey_decide_scores"]
        assert [e.text for e in view.timeline if e.kind == "facts"] == [
            "facts updated: revenue_generated"
        ] * 2
    await Replayer(
        workflows=[AccountJourneyWorkflow], data_converter=pydantic_data_converter
    ).replay_workflow(history)
