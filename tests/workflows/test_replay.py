"""Replay safety: recorded histories of the shipped workflows replay against today's workflow code
with the worker's data converter. A change that would break runs in flight fails here.

Re-record (only for new shapes of history, never to paper over a break):
    python scripts/record_histories.py      (see docs/changing-workflows.md)
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from csrunner.domain.messages import Action
from worker import WORKFLOWS

# Temporal's sandbox notes modules that load lazily (email_validator): harmless here.
pytestmark = pytest.mark.filterwarnings("ignore:Module .* was imported after initial workflow load")

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
INDEX = json.loads((HISTORIES / "index.json").read_text())


def history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(INDEX[name]["workflow_id"], (HISTORIES / name).read_text())


def replayer(workflows=WORKFLOWS) -> Replayer:
    return Replayer(workflows=workflows, data_converter=pydantic_data_converter)  # as the worker


@pytest.mark.parametrize("name", sorted(INDEX))
async def test_recorded_history_replays(name):
    await replayer().replay_workflow(history(name))


def test_every_shipped_workflow_has_a_recorded_history():
    assert {w.__name__ for w in WORKFLOWS} <= {v["workflow"] for v in INDEX.values()}  # default type names


def test_the_histories_hold_what_the_issue_asks_for():
    """Approvals, skips, snoozes, reassigns, a deadline escalation, a migration, a handover."""
    conv = pydantic_data_converter.payload_converter
    updates, actions, fired, handovers = Counter(), Counter(), 0, 0
    for name in INDEX:
        for e in history(name).events:
            if e.HasField("workflow_execution_update_accepted_event_attributes"):
                req = e.workflow_execution_update_accepted_event_attributes.accepted_request.input
                updates[req.name] += 1
                if req.name == "act":
                    actions[conv.from_payloads(req.args.payloads, [Action])[0].action] += 1
            fired += e.HasField("timer_fired_event_attributes")
            handovers += e.HasField("workflow_execution_continued_as_new_event_attributes")
    assert updates["migrate"] >= 1 and handovers >= 1 and fired >= 10
    assert set(actions) == {"approve", "skip", "snooze", "complete", "reassign"}


@workflow.defn(name="PlaybookWorkflow", sandboxed=False)
class ChangedPlaybook:
    """A careless change: the same workflow type now waits an hour before its first step."""

    @workflow.run
    async def run(self, inp: dict) -> None:
        await workflow.sleep(timedelta(hours=1))


async def test_a_breaking_change_fails_replay():
    with pytest.raises(Exception, match="[Nn]ondetermin"):
        await replayer([ChangedPlaybook]).replay_workflow(history("onboarding-full-1.json"))
