"""Every kind of step is dispatched by the interpreter, and a new kind that is not fails here:
the step union in csrunner/domain/definitions.py is the one list the interpreter's `match`, the
JSON Schema, the catalog checks and the preview derive from."""

from __future__ import annotations

import ast
import json
from datetime import timedelta
from pathlib import Path

import pytest
from mypy import api as mypy_api
from support import acme, settings_for, start, view

from csrunner.config.catalog import KINDS
from csrunner.config.settings import REPO_ROOT
from csrunner.domain.definitions import (
    STEP_KINDS,
    STEP_TYPES,
    TEMPLATE_KINDS,
    PlaybookDefinition,
    addressee,
    kind_of,
    subject,
)
from csrunner.services.preview.rows import CHANNEL
from csrunner.services.schema import SCHEMA_PATH, playbook_schema
from worker import build_worker
from workflows.playbook import PlaybookWorkflow

PLAYBOOK = REPO_ROOT / "workflows" / "playbook.py"


def _run_step_match() -> ast.Match:
    fn = next(
        n
        for n in ast.walk(ast.parse(PLAYBOOK.read_text()))
        if isinstance(n, ast.AsyncFunctionDef) and n.name == "_run_step"
    )
    return next(n for n in ast.walk(fn) if isinstance(n, ast.Match))


def test_the_interpreter_has_one_case_per_step_type_and_asserts_never_after_them():
    cases = _run_step_match().cases
    classes = [c.pattern.cls.id for c in cases if isinstance(c.pattern, ast.MatchClass)]
    assert classes == [t.__name__ for t in STEP_TYPES]  # one each, in the union's order
    last = cases[-1]
    assert isinstance(last.pattern, ast.MatchAs) and last.pattern.pattern is None  # case _:
    call = last.body[0].value
    assert isinstance(call, ast.Call) and call.func.id == "assert_never"


def test_everything_else_names_the_kinds_of_the_union():
    assert STEP_KINDS == ("email", "slack", "task", "wait", "approval", "start_playbook")
    assert tuple(kind_of(t) for t in STEP_TYPES) == STEP_KINDS
    assert TEMPLATE_KINDS == ("email", "slack")
    assert ", ".join(STEP_KINDS) == KINDS  # what the catalog tells a person who misspells a kind
    assert set(CHANNEL) == {*STEP_KINDS, "run"}  # the preview's Channel column
    steps = playbook_schema()["properties"]["steps"]["items"]
    assert steps["discriminator"]["mapping"] == {kind_of(t): f"#/$defs/{t.__name__}" for t in STEP_TYPES}
    committed = json.loads(SCHEMA_PATH.read_text())["properties"]["steps"]["items"]
    assert committed == steps


def _mypy(path: Path) -> str:
    out, err, _ = mypy_api.run(
        [
            str(path),
            "--follow-imports=silent",
            "--config-file",
            str(REPO_ROOT / "pyproject.toml"),
        ]
    )
    return out + err


def test_mypy_rejects_a_step_kind_without_a_case(tmp_path):
    """The same check CI makes on workflows/playbook.py: drop one case and mypy names the kind."""
    source = PLAYBOOK.read_text()
    assert "Success" in _mypy(PLAYBOOK)
    missing = source.replace(
        '            case WaitStep():\n                self.record(step.id, "wait", "reached")\n', ""
    )
    assert missing != source
    copy = tmp_path / "playbook_missing_case.py"
    copy.write_text(missing)
    report = _mypy(copy)
    assert 'Argument 1 to "assert_never" has incompatible type "WaitStep"' in report


def test_addressee_and_subject_cover_every_kind():
    defn = PlaybookDefinition.model_validate({"id": "every-kind", "name": "Every kind", "steps": EVERY_KIND})
    assert [(s.kind, addressee(s), subject(s)) for s in defn.steps] == [
        ("email", "champion", "onboarding_welcome"),
        ("slack", "csm", "new_customer"),
        ("task", "csm", "Call the champion"),
        ("wait", "", ""),
        ("approval", "manager", ""),
        ("start_playbook", "", ""),
    ]


EVERY_KIND = [
    {"id": "hello", "kind": "email", "to": "champion", "template": "onboarding_welcome"},
    {"id": "ping", "kind": "slack", "to": "csm", "template": "new_customer"},
    {"id": "call", "kind": "task", "title": "Call the champion"},
    {"id": "mark", "kind": "wait"},
    {
        "id": "gate",
        "kind": "approval",
        "approver": "manager",
        "gates": "next",
        "deadline": {"hours": 1, "then": "proceed"},
    },
    {"id": "next", "kind": "start_playbook", "playbook": "follow-up", "mode": "parallel"},
]


@pytest.mark.filterwarnings("ignore:Module .* was imported after initial workflow load")
async def test_a_run_with_every_kind_of_step_runs_each(env, tmp_path):
    definitions = {
        "every-kind": PlaybookDefinition.model_validate(
            {"id": "every-kind", "name": "Every kind", "steps": EVERY_KIND}
        ),
        "follow-up": PlaybookDefinition.model_validate(
            {"id": "follow-up", "name": "Follow-up", "steps": [{"id": "there", "kind": "wait"}]}
        ),
    }
    settings = settings_for(tmp_path)  # outbox mode: every message is rendered, nothing leaves
    async with build_worker(env.client, settings):
        handle = await start(env, settings, "every-kind", acme(), definitions)
        await env.sleep(timedelta(hours=2))
        v = await view(handle)
    assert [(r.step_id, r.kind, r.outcome, r.actor) for r in v.timeline] == [
        ("hello", "email", "sent", "playbook"),
        ("ping", "slack", "sent", "playbook"),
        ("call", "task", "created", "playbook"),
        ("mark", "wait", "reached", "playbook"),
        ("gate", "approval", "requested", "playbook"),
        ("gate", "approval", "approved", "deadline"),
        ("next", "start_playbook", "started", "playbook"),
    ]
    assert {r.kind for r in v.timeline} == set(STEP_KINDS)
    assert v.timeline[-1].detail == {"playbook": "follow-up"}
    assert [p.step_id for p in v.pending] == ["call"] and v.status == "lingering"
    child = env.client.get_workflow_handle_for(PlaybookWorkflow.run, f"{handle.id}/follow-up")
    assert [(r.step_id, r.outcome) for r in (await child.result()).timeline] == [("there", "reached")]
