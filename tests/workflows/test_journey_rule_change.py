"""A lifecycle rule changed while journeys run (here every cool-down goes from 14-28 days to 0),
as a deploy would change it: the committed histories, of this release and of the one before,
replay without a nondeterminism error, and a journey started before the change applies the new
rule to its next update. The scoring model is read once per worker and again when it changes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from journey_support import Clock, account, journey_worker, settings_for
from temporalio.contrib.pydantic import pydantic_data_converter
from test_replay import INDEX, history, replayer

from activities.journey import JourneyActivities
from csrunner.config.settings import Settings
from csrunner.domain import lifecycle
from csrunner.domain.journey_rules import Outcome
from csrunner.services import journeys

pytestmark = pytest.mark.filterwarnings("ignore:Module .* was imported after initial workflow load")

NO_COOLDOWNS = lifecycle.LifecycleRules(cooldown_days=0, recovery_cooldown_days=0, expansion_cooldown_days=0)


def recorded_decisions(name: str) -> list[Outcome]:
    """The answers of `journey_decide` / `journey_decide_scores` a history holds."""
    conv = pydantic_data_converter.payload_converter
    kinds, out = {}, []
    for e in history(name).events:
        if e.HasField("activity_task_scheduled_event_attributes"):
            kinds[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
        if e.HasField("activity_task_completed_event_attributes"):
            done = e.activity_task_completed_event_attributes
            kind = kinds[done.scheduled_event_id]
            if kind == "journey_decide":
                out += conv.from_payloads(done.result.payloads, [Outcome])
            elif kind == "journey_decide_scores":
                out += conv.from_payloads(done.result.payloads, [list[Outcome]])[0]
    return out


@pytest.mark.parametrize("name", sorted(INDEX))
async def test_committed_histories_replay_after_a_rule_change(name, monkeypatch):
    monkeypatch.setattr(lifecycle, "RULES", NO_COOLDOWNS)
    await replayer().replay_workflow(history(name))


def test_the_new_history_holds_a_decision_the_changed_rule_answers_otherwise():
    notes = [o.decision.note for o in recorded_decisions("journey-decisions-1.json") if o.decision]
    assert "band critical: retention-critical started 0 days ago, within the 14-day cool-down: " in "".join(
        notes
    )


async def test_a_journey_started_before_the_change_applies_it_to_its_next_update(env, tmp_path, monkeypatch):
    settings, client, clock = settings_for(tmp_path), env.client, Clock(env)
    acc = account("change-1")
    push = lambda score: journeys.push_score(client, settings, acc.id, score=score)  # noqa: E731
    async with journey_worker(client, settings, acc.id):
        await clock.start()
        await journeys.deal_closed(client, settings, acc, "deal-c1")
        await clock.to(16, 10)
        await push(70)  # at-risk starts
        # Let its first step finish: the time-skipping server refuses a workflow task that cancels
        # an activity it has just completed (ACTIVITY_UNKNOWN), and then its time stands still.
        await env.sleep(timedelta(minutes=5))
        await push(85)  # healthy: at-risk ends
        await env.sleep(timedelta(minutes=5))
        # the deploy: the worker's rules now have every cool-down at 0
        monkeypatch.setattr(lifecycle, "RULES", NO_COOLDOWNS)
        await push(70)  # at-risk again 0 days after it started: restarted under the new rule
        await env.sleep(timedelta(minutes=5))
        v = await journeys.journey_view(client, acc.id)
        handle = client.get_workflow_handle(journeys.journey_id(acc.id))
        await replayer().replay_workflow(await handle.fetch_history())  # as a restarted worker would
    retention = [(p.workflow_id.split("/", 1)[1], p.status) for p in v.plays if p.slot == "retention"]
    assert retention == [
        ("retention-at-risk/1", "preempted"),
        ("retention-healthy/1", "preempted"),
        ("retention-at-risk/2", "running"),
    ]
    rules_events = [e.text for e in v.timeline if e.kind == "rules"]
    assert len(rules_events) == 1 and rules_events[0].startswith("decided with scoring model ")


def test_the_scoring_model_is_read_once_per_worker_and_again_when_it_changes(tmp_path):
    playbooks = tmp_path / "playbooks"
    (playbooks / "scoring").mkdir(parents=True)
    source = Settings().scoring_model_path
    model_file = playbooks / "scoring" / source.name
    model_file.write_text(source.read_text())
    acts = JourneyActivities(Settings(playbooks_dir=playbooks, data_dir=tmp_path))
    first, h1 = acts.model.get()
    assert acts.model.get() == (first, h1) and acts.model.get()[0] is first  # not re-read
    edited = source.read_text().replace(f"name: {first.name}", "name: edited-model", 1)
    assert edited != source.read_text()
    model_file.write_text(edited)
    second, h2 = acts.model.get()
    assert (second.name, h2 != h1) == ("edited-model", True)
    model_file.write_text("groups: [")  # broken: the last good model goes on
    assert acts.model.get() == (second, h2)
    json.dumps(h2)  # the hash travels in the decision
