"""Re-record the workflow histories that tests/test_replay.py replays.

    python scripts/record_histories.py                      # every scenario not FROZEN
    python scripts/record_histories.py journey-decisions    # only the named ones

Each scenario drives the shipped workflows on a time-skipping test server (outbox mode) and writes
`(await handle.fetch_history()).to_json()` for every run (continue-as-new makes one per playbook)
to tests/histories/, listed in tests/histories/index.json with its workflow id.

Re-record only to add a NEW shape of history (a new step kind, a new scenario). Never re-record to
make a failing replay pass: a failing replay means runs in flight would break; make the change
with workflow.patched() or worker versioning instead (docs/changing-workflows.md).
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from csrunner.config.accounts import load_account, load_team  # noqa: E402
from csrunner.config.catalog import load_catalog  # noqa: E402
from csrunner.config.settings import Settings  # noqa: E402
from csrunner.domain.messages import Action, Migration, PlaybookInput  # noqa: E402
from csrunner.services import journeys  # noqa: E402
from csrunner.services.deal_intake import start_deal_intake  # noqa: E402
from csrunner.services.preview import advance_to_local, start_server  # noqa: E402
from csrunner.services.temporal import dev_server_path  # noqa: E402
from tests.fakes import FakeHubSpot  # noqa: E402  (the deal intake reads a HubSpot)
from worker import build_worker  # noqa: E402
from workflows.playbook import PlaybookWorkflow  # noqa: E402
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES  # noqa: E402

OUT = ROOT / "tests" / "histories"
MADRID = ZoneInfo("Europe/Madrid")


class Scene:
    """A run on the test clock: `at(day, "HH:MM")` moves time; `act` answers as a person."""

    def __init__(self, env, start):
        self.env, self.start, self.handle = env, start, None

    async def at(self, day: int, hhmm: str) -> None:
        h, m = map(int, hhmm.split(":"))
        target = self.start.astimezone(MADRID).replace(hour=h, minute=m) + timedelta(days=day)
        while (now := await self.env.get_current_time()) < target:
            await self.env.sleep(min(target - now, timedelta(days=1)))

    async def act(self, step: str, action: str, actor: str = "maria", **kw) -> None:
        await self.handle.execute_update(
            PlaybookWorkflow.act, Action(step_id=step, action=action, actor=actor, **kw)
        )

    async def complete_all(self, actor: str = "maria", value: bool = True) -> None:
        for p in (await self.handle.query(PlaybookWorkflow.view)).pending:
            if p.kind == "task":
                await self.act(p.step_id, "complete", actor, value=value if p.records else None)


def _account():
    return load_account(ROOT / "examples" / "acme.yaml", load_team(ROOT / "team.yaml"))


def _catalog():
    return load_catalog(ROOT / "playbooks", ROOT / "email_templates")


async def _start(env, settings, scene_id: str, account) -> Scene:
    scene = Scene(env, await advance_to_local(env, MADRID, "10:00"))
    scene.handle = await env.client.start_workflow(
        PlaybookWorkflow.run,
        PlaybookInput(
            account=account,
            playbook="onboarding",
            definitions=_catalog().bundle("onboarding"),
            search_attributes=False,
        ),
        id=f"history:{scene_id}",
        task_queue=settings.task_queue,
    )
    return scene


async def onboarding_full(env, settings) -> None:
    """Onboarding then scaling: a task deadline escalation, snoozes (task and approval, with the
    reminder), a reassign, an approval, a migration to a v2, first value 'no' (the at-risk branch)."""
    s = await _start(env, settings, "onboarding-full", _account())
    await s.at(1, "11:00")  # the kickoff task escalated to the manager at 10:00
    await s.act("day0-kickoff", "complete")
    await s.act("day1-data-task", "snooze", until=s.start + timedelta(days=2, hours=2))
    await s.at(2, "13:00")
    await s.act("day1-data-task", "complete")
    await s.act("day2-segments-task", "reassign", assignee="manager")
    await s.act("day2-segments-task", "complete", actor="carlos")
    for day in (3, 4):
        await s.at(day, "10:00")
        await s.complete_all()
    await s.act("day4-approve", "snooze", until=s.start + timedelta(days=4, hours=5))
    await s.at(4, "16:00")  # reminded at 15:00
    await s.act("day4-approve", "approve", reason="looks good")
    await s.at(4, "17:00")
    v2 = _catalog().bundle("onboarding")
    data = v2["onboarding"].model_dump(mode="json", exclude_defaults=True)
    data["version"] = 2
    data["steps"] = [
        dict(st, title="Day 5: send, monitor and report") if st["id"] == "day5-send-task" else st
        for st in data["steps"]
    ]
    v2["onboarding"] = type(v2["onboarding"]).model_validate(data)
    await s.handle.execute_update(
        PlaybookWorkflow.migrate, Migration(definitions=v2, actor="olga", reason="title")
    )
    for day in range(5, 16):
        await s.at(day, "10:00")
        await s.complete_all(value=False)  # day 7: first value not reached
    await s.at(23, "10:00")
    await _save(env, s.handle, "onboarding-full")


async def onboarding_deadline_skip(env, settings) -> None:
    """Nobody answers the day-4 approval: manager, then executive, then overdue; the manager then
    skips it, so the pilot email is skipped. Recorded up to the handover."""
    s = await _start(env, settings, "onboarding-deadline-skip", _account())
    for day in range(0, 8):
        await s.at(day, "10:00")
        await s.complete_all()
        if day == 7:  # the approval climbed to the executive and is overdue by now
            await s.act("day4-approve", "skip", actor="carlos", reason="too late for this pilot")
    await s.at(8, "10:00")
    await _save(env, s.handle, "onboarding-deadline-skip", last=1)


async def journey(env, settings) -> None:
    """The account journey: deal closed (onboarding and NPS plays start), a health score, an NPS
    answer, the CSM answering what is pending each day."""
    account = _account().model_copy(update={"id": "acme-journey"})
    start = await advance_to_local(env, MADRID, "10:00")
    scene = Scene(env, start)
    wid, _ = await journeys.deal_closed(env.client, settings, account, "deal-history")
    for day in range(0, 12):
        await scene.at(day, "12:00")
        view = await journeys.journey_view(env.client, account.id)
        for play in (p for p in view.plays if p.status == "running"):
            scene.handle = env.client.get_workflow_handle(play.workflow_id)
            await scene.complete_all()
            for p in (await scene.handle.query(PlaybookWorkflow.view)).pending:
                await scene.act(p.step_id, "approve")
        if day == 9:
            await journeys.push_score(env.client, settings, account.id, score=85, source="nightly feed")
        if day == 10:
            await journeys.push_nps(env.client, settings, account.id, 9, "Going well")
    handle = env.client.get_workflow_handle(wid)
    await _save(env, handle, "journey", what="AccountJourneyWorkflow")
    for play in (await journeys.journey_view(env.client, account.id)).plays:
        await _terminate(env.client.get_workflow_handle(play.workflow_id))


async def journey_decisions(env, settings) -> None:
    """The journey with recorded decisions (patch `journey-recorded-decisions`): after onboarding,
    healthy with an expansion signal, a drop (expansion and healthy preempted), critical, a rise
    and critical again within the cool-downs (no restart), an NPS detractor and a promoter."""
    account = _account().model_copy(update={"id": "acme-decisions"})
    scene = Scene(env, await advance_to_local(env, MADRID, "10:00"))
    wid, _ = await journeys.deal_closed(env.client, settings, account, "deal-decisions")
    await scene.at(16, "10:00")  # onboarding and scaling are over (15 days)
    steps = [
        lambda: journeys.push_score(env.client, settings, account.id, score=85, source="nightly feed"),
        lambda: journeys.push_expansion_signal(env.client, settings, account.id, "team_growth"),
        lambda: journeys.push_score(env.client, settings, account.id, score=70),
        lambda: journeys.push_score(env.client, settings, account.id, score=40),
        lambda: journeys.push_score(env.client, settings, account.id, score=72),
        lambda: journeys.push_score(env.client, settings, account.id, score=41),
        lambda: journeys.push_nps(env.client, settings, account.id, 5, "Slower than we hoped"),
        lambda: journeys.push_nps(env.client, settings, account.id, 10, "Great ROI"),
    ]
    for send in steps:
        await send()
        await env.sleep(timedelta(minutes=5))
    handle = env.client.get_workflow_handle(wid)
    await _save(env, handle, "journey-decisions", what="AccountJourneyWorkflow")
    for play in (await journeys.journey_view(env.client, account.id)).plays:
        await _terminate(env.client.get_workflow_handle(play.workflow_id))


async def on_dev_server(
    env, settings, name: str = "journey-dashboard", scores: tuple[float, ...] = (85, 58, 62)
) -> None:
    """On the dev server (search attributes, so the dashboard rows are published): a deal (onboarding
    starts), score updates by update-with-start (the CSV import's call), an NPS answer, an
    expansion signal. `journey-dashboard` was recorded by the release that published the journey's
    row in its memo (version 0), `journey-store` by the one that writes it to the store,
    `journey-quiet-rows` by the one whose quiet updates have their row written with the decision."""
    account = _account().model_copy(update={"id": name.replace("journey-", "acme-")})
    wid, _ = await journeys.deal_closed(env.client, settings, account, "deal-dashboard")
    for i, score in enumerate(scores):
        await journeys.apply_batch(
            env.client, settings, account.id, [journeys.score_update(settings, score=score)], f"b{i}"
        )
    await journeys.push_nps(env.client, settings, account.id, 9, "Going well")
    await journeys.push_expansion_signal(env.client, settings, account.id, "team_growth")
    handle = env.client.get_workflow_handle(wid)
    for _ in range(100):  # the signals handled: nothing queued, nothing being handled
        if (await journeys.journey_view(env.client, account.id)).queued == 0:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    await _save(env, handle, name, what="AccountJourneyWorkflow")
    onboarding = env.client.get_workflow_handle(f"{wid}/onboarding/1")  # its day 0, row published
    await _save(env, onboarding, name.replace("journey-", "onboarding-"))


async def deal_intake(env, settings, hubspot) -> None:
    """HubSpot deals taken in: one read once HubSpot answers again (the journey starts), one that
    cannot become an account (no contact with an email: a task card, no journey)."""
    hubspot.add_owner(501, "maria@cs.example.com", "María", "García")
    hubspot.add_company(77, {"name": "Acme Corp", "timezone": "Europe/Madrid", "hs_language": "es"})
    hubspot.add_contact(
        1, {"email": "ana@acme.example", "firstname": "Ana", "hs_buying_role": "CHAMPION"}, 77
    )
    hubspot.add_deal(9001, {"dealname": "Acme", "dealstage": "closedwon", "hubspot_owner_id": "501"}, 77, [1])
    hubspot.add_company(78, {"name": "Nobody Inc"})
    hubspot.add_deal(9002, {"dealname": "Nobody", "dealstage": "closedwon", "hubspot_owner_id": "501"}, 78)
    hubspot.fail_next(503, times=2)  # HubSpot down when the first deal closes
    for deal, name in (("9001", "deal-intake"), ("9002", "deal-intake-task")):
        wid, _ = await start_deal_intake(env.client, settings, 5799819, deal)
        handle = env.client.get_workflow_handle(wid)
        await handle.result()
        await _save(env, handle, name, what="DealIntakeWorkflow")
    await _terminate(env.client.get_workflow_handle(journeys.journey_id("hubspot-77")))


SCENARIOS = {
    "onboarding-full": onboarding_full,
    "onboarding-deadline-skip": onboarding_deadline_skip,
    "journey": journey,
    "journey-decisions": journey_decisions,
    "deal-intake": deal_intake,
    "journey-dashboard": on_dev_server,
    "journey-store": functools.partial(on_dev_server, name="journey-store"),
    "journey-quiet-rows": functools.partial(
        on_dev_server, name="journey-quiet-rows", scores=(85, 88, 58, 62)
    ),
}
#: Recorded on the dev server: its search attributes make runs publish what the dashboard reads.
ON_DEV_SERVER = {
    "journey-dashboard",
    "journey-store",
    "journey-quiet-rows",
}  # each also records the onboarding it started
#: Recorded by an earlier release: their files are what runs in flight look like, so they are
#: never re-recorded (re-recording would record today's shape and prove nothing).
FROZEN = {"onboarding-full", "onboarding-deadline-skip", "journey", "journey-dashboard", "journey-store"}


async def _save(env, handle, name: str, last: int | None = None, what: str = "PlaybookWorkflow") -> None:
    """Every run of the chain (following continue-as-new), then stop what is still running."""
    index_path = OUT / "index.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    index = {k: v for k, v in index.items() if not re.fullmatch(rf"{re.escape(name)}-\d+\.json", k)}
    run_id, n = handle.first_execution_run_id or handle.run_id, 0
    if run_id is None:
        run_id = (await handle.describe()).run_id
    while run_id and (last is None or n < last):
        history = await env.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        n += 1
        attrs = history.events[0].workflow_execution_started_event_attributes
        file = f"{name}-{n}.json"
        (OUT / file).write_text(history.to_json() + "\n")
        index[file] = {
            "workflow_id": handle.id,
            "workflow": attrs.workflow_type.name or what,
            "events": len(history.events),
        }
        end = history.events[-1]
        run_id = (
            end.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if end.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    index_path.write_text(json.dumps(dict(sorted(index.items())), indent=2) + "\n")
    await _terminate(env.client.get_workflow_handle(handle.id))
    print(f"{name}: {n} run(s) recorded")


async def _terminate(handle) -> None:
    if (await handle.describe()).status.name == "RUNNING":
        await handle.terminate("recording over")


async def dev_server() -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_existing_path=dev_server_path(),
    )


async def main(names: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names or list(SCENARIOS):
        async with await (dev_server() if name in ON_DEV_SERVER else start_server()) as env:
            with tempfile.TemporaryDirectory() as tmp, FakeHubSpot() as hubspot:
                settings = Settings(
                    data_dir=Path(tmp),
                    task_queue=f"record-{uuid.uuid4().hex}",
                    sendgrid_api_key="",
                    slack_bot_token="",
                    hubspot_api_url=hubspot.url,
                    hubspot_access_token=hubspot.token,
                )
                async with build_worker(env.client, settings):
                    scenario = SCENARIOS[name]
                    await (
                        scenario(env, settings, hubspot) if name == "deal-intake" else scenario(env, settings)
                    )


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--force"]
    unknown = set(args) - set(SCENARIOS)
    if unknown:
        sys.exit(f"unknown scenario(s): {', '.join(sorted(unknown))} (known: {', '.join(SCENARIOS)})")
    names = args or [n for n in SCENARIOS if n not in FROZEN]
    frozen = FROZEN & set(names)
    if frozen and "--force" not in sys.argv:
        sys.exit(
            f"{', '.join(sorted(frozen))}: recorded by an earlier release, not re-recorded "
            "(docs/changing-workflows.md); --force if you really mean it"
        )
    asyncio.run(main(names))
