"""Preview: the real workflow on the time-skipping server shows the whole timeline for a sample
account (day, local time, step, channel, recipient, rendered subject), the approval gates and what
happens when nobody answers; Markdown, HTML, the diff of two versions, and the README copy."""

from __future__ import annotations

import importlib.util
import re

import pytest
import pytest_asyncio
from click.testing import CliRunner

from csrunner.config.accounts import load_account, load_team
from csrunner.config.catalog import load_catalog
from csrunner.config.settings import REPO_ROOT
from csrunner.domain.definitions import PlaybookDefinition
from csrunner.interfaces.cli.main import main
from csrunner.services.preview import Options, diff, diff_markdown, preview, to_html, to_markdown

# Temporal's sandbox notes modules that load lazily (email_validator): harmless here.
pytestmark = pytest.mark.filterwarnings("ignore:Module .* was imported after initial workflow load")

ACME = REPO_ROOT / "examples" / "acme.yaml"
GATE = (
    "'day4-approve' (onboarding, day 4): María García (csm) approves 'day4-pilot-review'. If nobody "
    "answers: after 24 h Carlos Ruiz (manager) is told; after 48 h Elena Torres (executive) is told; then it "
    "stays pending, marked overdue, and the run waits at this gate."
)


def acme():
    return load_account(ACME, load_team(REPO_ROOT / "team.yaml"))


def bundle():
    return load_catalog(REPO_ROOT / "playbooks", REPO_ROOT / "email_templates").bundle("onboarding")


def readme_script():
    spec = importlib.util.spec_from_file_location(
        "readme_preview", REPO_ROOT / "scripts" / "readme_preview.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest_asyncio.fixture(scope="module")
async def onboarding(env):
    """One preview of the shipped onboarding (+ scaling) for Acme, made by the README script and
    shared by the tests below (so the README check costs nothing more)."""
    return await readme_script().generate_preview(env)


def row(p, step, outcome=None):
    return next(r for r in p.rows if r.step == step and (outcome is None or r.outcome.startswith(outcome)))


async def test_the_whole_onboarding_and_scaling_timeline(onboarding):
    p = onboarding
    assert p.versions == [
        f"onboarding v1 ({bundle()['onboarding'].content_hash})",
        f"scaling v1 ({bundle()['scaling'].content_hash})",
    ]
    welcome = row(p, "day0-welcome")
    assert (welcome.day, welcome.time, welcome.channel, welcome.to, welcome.outcome) == (
        0,
        "10:00",
        "email",
        "Ana López <ana@acme.example>",
        "sent",
    )
    assert welcome.what == "¡Bienvenidos a bordo, Acme Retail! Agendemos la llamada de inicio"  # es template
    slack = row(p, "day0-slack-csm")
    assert (slack.channel, slack.to) == (
        "Slack",
        "María García",
    ) and "New customer: Acme Retail" in slack.what
    gate = row(p, "day4-approve")
    assert (gate.day, gate.time, gate.channel, gate.outcome) == (
        4,
        "09:00",
        "approval",
        "asked; approved by María García (day 4 09:30)",
    )
    review = row(p, "day4-pilot-review")
    assert (review.day, review.time) == (4, "09:30")  # sent once approved
    assert [(r.day, r.time) for r in p.rows if r.step == "day1-data-email"] == [(1, "09:00")]
    assert row(p, "day8-scaling").what == "hands over to scaling"
    ran = {r.step for r in p.rows}
    assert {s.id for d in bundle().values() for s in d.steps} == ran  # every step of both playbooks
    assert row(p, "scale-ttv-at-risk").outcome == "not applicable: condition on 'first_value_reached' not met"
    assert p.ending == "The run completes on day 14 at 17:00."
    assert p.gates == [GATE]


async def test_nobody_answers_shows_the_deadline_behaviour(env):
    p = await preview(bundle(), "onboarding", acme(), Options(approvals="none", tasks="none"), env=env)
    escalations = [
        (r.day, r.time, r.to, r.what) for r in p.rows if r.step == "day4-approve" and r.channel == "Slack"
    ]
    assert escalations == [
        (5, "09:00", "Carlos Ruiz", "escalation: unanswered for 24 h"),
        (6, "09:00", "Elena Torres", "escalation: unanswered for 48 h"),
    ]
    assert "day4-pilot-review" not in {r.step for r in p.rows}  # the gate holds the email back
    assert p.ending == (
        "On day 7 at 09:00 nobody has answered 'day4-approve': it stays pending, marked overdue, "
        "and the run waits at this gate until someone answers."
    )
    kickoff = [r for r in p.rows if r.step == "day0-kickoff"]
    assert [(r.day, r.outcome) for r in kickoff] == [
        (0, "created"),
        (1, "escalated"),
        (2, "overdue: no one left to escalate to"),
    ]


async def test_markdown_html_and_bodies(onboarding):
    md = to_markdown(onboarding)
    assert (
        "| 4 | 09:00 | day4-approve | approval | María García | Approve the campaign-review email to the "
        "champion | asked; approved by María García (day 4 09:30) |" in md
    )
    assert "**Approval gates**" in md and "**Messages**" not in md
    onboarding.options.body = True
    try:
        md, page = to_markdown(onboarding), to_html(onboarding)
    finally:
        onboarding.options.body = False
    assert "**Messages**" in md and "Hola, Ana:" in md  # the rendered email body, in Spanish
    assert page.startswith("<!doctype html>") and "<td>day4-approve</td>" in page and "<details>" in page


async def test_diff_of_two_versions(env, onboarding):
    old = bundle()
    data = old["onboarding"].model_dump(mode="json", exclude_defaults=True)
    data["version"] = 2
    data["steps"] = [s for s in data["steps"] if s["id"] != "day5-send-task"]
    data["steps"].insert(
        9,
        {
            "id": "day3-extra-email",
            "day": 3,
            "kind": "email",
            "to": "champion",
            "template": "onboarding_segments",
        },
    )
    new = {**old, "onboarding": PlaybookDefinition.model_validate(data)}
    p2 = await preview(new, "onboarding", acme(), Options(), env=env)
    changes = diff(onboarding, p2)
    assert [(c.kind, (c.new or c.old).step, (c.new or c.old).day) for c in changes] == [
        ("added", "day3-extra-email", 3),
        ("removed", "day5-send-task", 5),
    ]
    text = diff_markdown(onboarding, p2, changes)
    assert "| added | 3 | 09:00 | day3-extra-email | email | Ana López <ana@acme.example> |" in text
    assert "| removed | 5 | 09:00 | day5-send-task | task | María García | Day 5: send and monitor |" in text
    assert text.rstrip().endswith("1 added, 1 removed.")
    assert diff_markdown(onboarding, onboarding, diff(onboarding, onboarding)).endswith(
        "No change in the timeline.\n"
    )


def test_csr_preview_and_diff_commands(tmp_path):
    out = tmp_path / "preview.md"
    result = CliRunner().invoke(main, ["preview", "onboarding", str(ACME), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "| 0 | 10:00 | day0-welcome | email | Ana López" in out.read_text()
    old = REPO_ROOT / "playbooks" / "onboarding.yaml"
    new = tmp_path / "onboarding.yaml"
    new.write_text(old.read_text().replace("day: 7\n    kind: email", "day: 6\n    kind: email"))
    result = CliRunner().invoke(main, ["diff", str(old), str(new), str(ACME)])
    assert result.exit_code == 0, result.output
    assert re.search(r"\| changed \| 7 → 6 \| 09:00 \| day7-recap \| email \|", result.output), result.output


def test_readme_preview_is_current(onboarding):
    """Fast: compares with the preview the module already made. Fix: python scripts/readme_preview.py"""
    script = readme_script()
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    if script.START not in readme:
        pytest.skip("README.md has no preview markers yet")
    assert script.replace(readme, to_markdown(onboarding)) == readme, "run: python scripts/readme_preview.py"
