"""Versions: publishing onboarding v2 while runs are half-way through v1, the dry-run, an explicit
migration of one run, the refusals (with their reasons), and the registry of who did what."""

from __future__ import annotations

import asyncio
import functools
import shutil
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
import yaml
from click.testing import CliRunner
from temporalio.client import WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from csrunner.config.accounts import load_account, load_team
from csrunner.config.catalog import load_catalog
from csrunner.config.settings import REPO_ROOT, Settings
from csrunner.domain.messages import Migration, PlaybookInput
from csrunner.interfaces.cli.main import main
from csrunner.services.preview import Options, advance_to_local, answer_pending
from csrunner.services.temporal import dev_server_path
from csrunner.services.versions import Registry, find_runs, migrate, visibility_query
from worker import build_worker
from workflows.playbook import PlaybookWorkflow
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTE_KEYS

# Temporal's sandbox notes modules that load lazily (email_validator): harmless here.
pytestmark = pytest.mark.filterwarnings("ignore:Module .* was imported after initial workflow load")

MADRID = ZoneInfo("Europe/Madrid")
PEOPLE = Options(approvals="approve", tasks="complete")  # the CSM answers within 12 hours
NEW_EMAIL = """{% block subject %}{% autoescape false %}{{ account.name }}: three tips for day 3{% endautoescape %}{% endblock %}
{% block text %}Hi {{ contact.first_name }}, three tips. {{ csm.name }}{% endblock %}
{% block html %}<p>Hi {{ contact.first_name }}, three tips.</p>{% endblock %}
"""


def acme(account_id: str):
    account = load_account(REPO_ROOT / "examples" / "acme.yaml", load_team(REPO_ROOT / "team.yaml"))
    return account.model_copy(update={"id": account_id})


def onboarding_v2() -> str:
    """The shipped onboarding with a new day-3 email and without the day-5 task."""
    data = yaml.safe_load((REPO_ROOT / "playbooks" / "onboarding.yaml").read_text())
    data["version"] = 2
    steps = [s for s in data["steps"] if s["id"] != "day5-send-task"]
    at = next(i for i, s in enumerate(steps) if s["id"] == "day3-branding-task") + 1
    steps.insert(
        at,
        {
            "id": "day3-tips-email",
            "day": 3,
            "kind": "email",
            "to": "champion",
            "template": "onboarding_day3_tips",
        },
    )
    return yaml.safe_dump({**data, "steps": steps}, sort_keys=False, allow_unicode=True)


@pytest.fixture
def files(tmp_path):
    """playbooks/ with onboarding v1 and scaling, and the templates plus the new day-3 email."""
    playbooks, templates = tmp_path / "playbooks", tmp_path / "templates"
    playbooks.mkdir()
    for name in ("onboarding.yaml", "scaling.yaml"):
        shutil.copy(REPO_ROOT / "playbooks" / name, playbooks / name)
    shutil.copytree(REPO_ROOT / "playbooks" / "scoring", playbooks / "scoring")  # facts the templates use
    shutil.copytree(REPO_ROOT / "email_templates", templates)
    (templates / "en" / "onboarding_day3_tips.j2").write_text(NEW_EMAIL)
    return playbooks, templates


async def advance(env, days: float, handles) -> None:
    """Move the clock in 12-hour steps; people answer what is pending (before any deadline)."""
    for _ in range(int(days * 2)):
        await env.sleep(timedelta(hours=12))
        now = await env.get_current_time()
        for h in handles:
            await answer_pending(h, await h.query(PlaybookWorkflow.view), PEOPLE, now)


async def start(env, settings, catalog, account):
    return await env.client.start_workflow(
        PlaybookWorkflow.run,
        PlaybookInput(
            account=account,
            playbook="onboarding",
            definitions=catalog.bundle("onboarding"),
            search_attributes=False,
        ),
        id=f"playbook:{account.id}:onboarding",
        task_queue=settings.task_queue,
    )


def local_day(view, at) -> int:
    """Calendar day in Madrid counted from the run's start (what the playbook's `day` means)."""
    return (at.astimezone(MADRID).date() - view.timeline[0].at.astimezone(MADRID).date()).days


def steps_run(view) -> list[str]:
    return [r.step_id for r in view.timeline if r.actor == "playbook" and r.kind != "run"]


@pytest_asyncio.fixture
async def runs():
    """Runs a test started, by name; any still running afterwards is terminated (a run left with
    timers would stop the shared time-skipping server from skipping time)."""
    started: dict = {}
    yield started
    for h in started.values():
        if (await h.describe()).status.name == "RUNNING":
            await h.terminate("test over")


async def test_publish_v2_while_three_runs_are_on_v1(env, files, tmp_path, runs):
    playbooks, templates = files
    settings = Settings(
        data_dir=tmp_path / "data",
        task_queue=f"tq-{uuid.uuid4().hex}",
        templates_dir=templates,
        sendgrid_api_key="",
        slack_bot_token="",
    )
    registry = Registry(tmp_path / "published")
    v1 = load_catalog(playbooks, templates)
    old = v1.definitions["onboarding"]
    assert registry.publish(old, "olga") == (
        True,
        f"onboarding: published v1 {old.content_hash} (first version)",
    )
    await advance_to_local(env, MADRID, "10:00")
    async with build_worker(env.client, settings):
        for day in (6, 4, 2):  # the day each run is on when v2 is published
            runs[day] = await start(env, settings, registry.live(v1), acme(f"acme-day{day}"))
            await advance(env, 2, runs.values())

        # Publish v2: new runs get it; the three runs in flight stay on v1.
        (playbooks / "onboarding.yaml").write_text(onboarding_v2())
        v2 = load_catalog(playbooks, templates)
        new = v2.definitions["onboarding"]
        assert registry.publish(new, "olga") == (
            True,
            f"onboarding: published v2 {new.content_hash} (was v1 {old.content_hash})",
        )
        fresh = runs["new"] = await start(env, settings, registry.live(v2), acme("acme-new"))
        assert (await fresh.query(PlaybookWorkflow.view)).version == 2
        for day in (2, 4, 6):
            assert (await runs[day].query(PlaybookWorkflow.view)).version == 1

        # The dry-run says, for each run, what would happen and why; it changes nothing.
        wids = [runs[d].id for d in (2, 4, 6)]
        bundle = registry.live(v2).bundle("onboarding")
        dry = await migrate(env.client, wids, bundle, "olga", "new day-3 email", registry, dry_run=True)
        v1l, v2l = f"v1 {old.content_hash}", f"v2 {new.content_hash}"
        assert [p.line() for p in dry] == [
            f"playbook:acme-day2:onboarding (acme-day2, day 2, {v1l} → {v2l}): would move: continues at "
            "'day3-branding-email' in v2; new steps ahead: day3-tips-email; dropped: day5-send-task",
            f"playbook:acme-day4:onboarding (acme-day4, day 4, {v1l} → {v2l}): stays: its current step "
            "'day5-send-task' does not exist in onboarding v2; it stays on v1",
            f"playbook:acme-day6:onboarding (acme-day6, day 6, {v1l} → {v2l}): would move: continues at "
            "'day7-recap' in v2; new steps it will not run: day3-tips-email",
        ]
        assert [e["event"] for e in registry.events()] == ["publish", "publish"]

        # Migrate the day-2 run; the day-4 one is refused with its reason and left as it was.
        before = await runs[4].query(PlaybookWorkflow.view)
        moved, refused = await migrate(
            env.client, [runs[2].id, runs[4].id], bundle, "olga", "new day-3 email", registry
        )
        assert moved.ok and moved.why == "moved: continues at 'day3-branding-email' in v2"
        assert not refused.ok and refused.why == (
            "its current step 'day5-send-task' does not exist in onboarding v2; it stays on v1"
        )
        with pytest.raises(WorkflowUpdateFailedError) as err:  # the workflow's own validator agrees
            await runs[4].execute_update(
                PlaybookWorkflow.migrate, Migration(definitions=bundle, actor="olga")
            )
        assert err.value.cause.message == refused.why
        assert await runs[4].query(PlaybookWorkflow.view) == before
        (again,) = await migrate(env.client, [runs[2].id], bundle, "olga", "", None, dry_run=True)
        assert again.why == f"the run is already on this version ({new.content_hash})"

        await advance(env, 14, runs.values())  # everyone finishes onboarding and scaling
        views = {d: await h.query(PlaybookWorkflow.view) for d, h in runs.items() if d != "new"}

    # The migrated run sent the new day-3 email and never had the day-5 task.
    assert all(v.status == "completed" for v in views.values())
    day2 = views[2]
    migrated = [r for r in day2.timeline if r.outcome == "migrated"]
    assert [(r.step_id, r.actor, r.detail) for r in migrated] == [
        ("day3-branding-email", "olga", {"from": v1l, "to": v2l})
    ]
    tips = next(r for r in day2.timeline if r.step_id == "day3-tips-email")
    assert (tips.outcome, local_day(day2, tips.at), tips.detail["subject"]) == (
        "sent",
        3,
        "Acme Retail: three tips for day 3",
    )
    assert "day5-send-task" not in steps_run(day2)
    # The v1 runs finished on v1, untouched: every v1 step, no new email, no migration.
    for day in (4, 6):
        ran = steps_run(views[day])
        assert [s.id for s in old.steps if s.id in ran] == [s.id for s in old.steps]
        assert "day3-tips-email" not in ran and not any(r.outcome == "migrated" for r in views[day].timeline)
    # Every publish and migration is in the registry: who, when, from which version to which.
    events = [
        (e["event"], e.get("workflow_id"), e["from"], e["to"], e["who"], e.get("applied"))
        for e in registry.events()
    ]
    assert events == [
        ("publish", None, None, v1l, "olga", None),
        ("publish", None, v1l, v2l, "olga", None),
        ("migrate", runs[2].id, v1l, v2l, "olga", True),
        ("migrate", runs[4].id, v1l, v2l, "olga", False),
    ]
    assert all(e["when"] for e in registry.events())


def test_publishing_needs_a_new_version_number_for_new_content(files, tmp_path):
    playbooks, templates = files
    registry = Registry(tmp_path / "published")
    v1 = load_catalog(playbooks, templates).definitions["onboarding"]
    assert registry.publish(v1, "olga")[0]
    assert registry.publish(v1, "olga") == (
        False,
        f"onboarding: v1 {v1.content_hash} is already the published version",
    )
    edited = v1.model_copy(update={"name": "Onboarding, edited"})
    assert registry.publish(edited, "olga") == (
        False,
        (
            f"onboarding: the content changed ({v1.content_hash} → {edited.content_hash}) but the version is "
            "still 1: raise `version:` above 1 to publish"
        ),
    )
    assert registry.current("onboarding") == v1 and len(registry.events()) == 1


def test_visibility_query_text():
    assert visibility_query("onboarding", ["acme", "o'neil"]) == (
        "WorkflowType = 'PlaybookWorkflow' AND ExecutionStatus = 'Running' AND Playbook = 'onboarding' "
        "AND AccountId IN ('acme', 'o\\'neil')"
    )


async def test_runs_are_selected_through_visibility(files, tmp_path, monkeypatch):
    """The dev server (the time-skipping one has no visibility): find runs by playbook and account."""
    playbooks, templates = files
    settings = Settings(
        data_dir=tmp_path / "data",
        task_queue=f"tq-{uuid.uuid4().hex}",
        templates_dir=templates,
        sendgrid_api_key="",
        slack_bot_token="",
    )
    catalog = load_catalog(playbooks, templates)
    async with (
        await WorkflowEnvironment.start_local(
            data_converter=pydantic_data_converter,
            search_attributes=SEARCH_ATTRIBUTE_KEYS,
            dev_server_existing_path=dev_server_path(),
            dev_server_log_level="error",
        ) as local,
        build_worker(local.client, settings),
    ):
        handles = [
            await local.client.start_workflow(
                PlaybookWorkflow.run,
                PlaybookInput(
                    account=acme(a), playbook="onboarding", definitions=catalog.bundle("onboarding")
                ),
                id=f"playbook:{a}:onboarding",
                task_queue=settings.task_queue,
            )
            for a in ("acme-a", "acme-b")
        ]
        found = []
        for _ in range(100):  # visibility is eventually consistent
            found = await find_runs(local.client, "onboarding", ["acme-a"])
            if found:
                break
            await asyncio.sleep(0.1)
        assert found == ["playbook:acme-a:onboarding"]
        (playbooks / "onboarding.yaml").write_text(onboarding_v2())
        v2 = load_catalog(playbooks, templates).bundle("onboarding")
        (plan,) = await migrate(local.client, found, v2, "olga", "", None, dry_run=True)
        assert (plan.ok, plan.why) == (True, "continues at 'day1-data-email' in v2")
        # the same through `csr migrate` (in a thread: the command runs its own event loop)
        monkeypatch.setenv("TEMPORAL_ADDRESS", local.client.service_client.config.target_host)
        monkeypatch.setenv("PLAYBOOKS_DIR", str(playbooks))
        monkeypatch.setenv("TEMPLATES_DIR", str(templates))
        registry = tmp_path / "published"
        csr = functools.partial(asyncio.to_thread, CliRunner().invoke, main)
        dry = await csr(
            [
                "migrate",
                "onboarding",
                "--as",
                "olga",
                "--account",
                "acme-b",
                "--dry-run",
                "--registry",
                str(registry),
            ]
        )
        assert "playbook:acme-b:onboarding (acme-b, day 0, v1 " in dry.output, dry.output
        assert "would move: continues at 'day1-data-email' in v2" in dry.output
        assert "1 run(s) (dry run: nothing changed)" in dry.output and not registry.exists()
        done = await csr(
            [
                "migrate",
                "onboarding",
                "--as",
                "olga",
                "--run",
                "playbook:acme-b:onboarding",
                "--registry",
                str(registry),
                "--reason",
                "new day-3 email",
            ]
        )
        assert "moved  playbook:acme-b:onboarding: moved: continues at 'day1-data-email' in v2" in done.output
        assert (await handles[1].query(PlaybookWorkflow.view)).version == 2
        history = await csr(["published", "--registry", str(registry)])
        assert (
            "migrate  playbook:acme-b:onboarding  v1 " in history.output
            and "by olga applied" in history.output
        )
        for h in handles:
            await h.terminate("test over")


def test_csr_publish(files, tmp_path, monkeypatch):
    playbooks, templates = files
    monkeypatch.setenv("PLAYBOOKS_DIR", str(playbooks))
    monkeypatch.setenv("TEMPLATES_DIR", str(templates))
    registry = ["--registry", str(tmp_path / "published")]
    first = CliRunner().invoke(main, ["publish", "--as", "olga", *registry])
    assert (
        first.exit_code == 0
        and "onboarding: published v1 " in first.output
        and "(first version)" in first.output
    )
    (playbooks / "onboarding.yaml").write_text(onboarding_v2().replace("version: 2", "version: 1"))
    refused = CliRunner().invoke(main, ["publish", "onboarding", "--as", "olga", *registry])
    assert refused.exit_code == 1 and "but the version is still 1: raise `version:` above 1" in refused.output
    (playbooks / "onboarding.yaml").write_text(
        onboarding_v2().replace("template: onboarding_day3_tips", "template: onboarding_day3_tip")
    )
    invalid = CliRunner().invoke(main, ["publish", "--as", "olga", *registry])
    assert invalid.exit_code == 1 and "nothing published:" in invalid.output
    assert "unknown template 'onboarding_day3_tip'" in invalid.output
