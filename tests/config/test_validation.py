"""Playbook validation: each error with its exact file:line:column, all errors at once, the JSON
Schema for editors, and a fuzz test: whatever the input, the loader only ever reports."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csrunner.config.catalog import file_issues, load_catalog
from csrunner.config.settings import REPO_ROOT
from csrunner.config.sourcemap import DefinitionError, read_yaml
from csrunner.domain.definitions import STEP_KINDS, PlaybookDefinition
from csrunner.interfaces.cli.main import main
from csrunner.services.schema import SCHEMA_PATH, playbook_schema, schema_text

TEMPLATES = REPO_ROOT / "email_templates"
KINDS = "email, slack, task, wait, approval, start_playbook"

# A small valid playbook; the line numbers in the expectations below refer to it.
TRIAL = """\
id: trial
name: Trial
steps:
  - id: welcome
    kind: email
    to: champion
    template: onboarding_welcome
  - id: ping-csm
    kind: slack
    to: csm
    template: new_customer
  - id: approve-review
    day: 4
    kind: approval
    gates: review
    deadline: {hours: 24, then: escalate, escalate_to: [manager]}
  - id: review
    day: 4
    kind: email
    to: champion
    template: onboarding_pilot_review
  - id: next
    day: 8
    kind: start_playbook
    playbook: follow-up
"""
FOLLOW_UP = "id: follow-up\nname: Follow-up\nsteps:\n  - id: wait\n    kind: wait\n"


def errors(tmp_path: Path, *edits: tuple[str, str], follow_up: str = FOLLOW_UP) -> list[str]:
    """Write TRIAL with `edits` applied (and follow-up.yaml) and return every reported issue."""
    text = TRIAL
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    folder = tmp_path / "playbooks"
    folder.mkdir(exist_ok=True)
    (folder / "trial.yaml").write_text(text)
    (folder / "follow-up.yaml").write_text(follow_up)
    with pytest.raises(DefinitionError) as err:
        load_catalog(folder, TEMPLATES)
    return [str(i).replace(f"{folder}/", "") for i in err.value.issues]


def test_the_trial_playbook_and_the_shipped_ones_are_valid(tmp_path):
    (tmp_path / "trial.yaml").write_text(TRIAL)
    (tmp_path / "follow-up.yaml").write_text(FOLLOW_UP)
    assert set(load_catalog(tmp_path, TEMPLATES).definitions) == {"trial", "follow-up"}
    shipped = load_catalog(REPO_ROOT / "playbooks", TEMPLATES)
    assert {"onboarding", "scaling"} <= set(shipped.definitions)


@pytest.mark.parametrize(
    "edit,expected",
    [
        (
            ("kind: approval", "kind: aproval"),
            f"trial.yaml:14:5: step 'approve-review': unknown kind 'aproval' (expected one of: {KINDS})",
        ),
        (
            ("id: ping-csm", "id: welcome"),
            "trial.yaml:8:5: step 'welcome': duplicate step id (first used at line 4)",
        ),
        (
            ("template: onboarding_welcome", "template: onboarding_welcom"),
            f"trial.yaml:7:5: step 'welcome': unknown template 'onboarding_welcom' (no en/onboarding_welcom.j2 "
            f"in {TEMPLATES}); did you mean 'onboarding_welcome'?",
        ),
        (
            ("template: new_customer", "template: new_customr"),
            f"trial.yaml:11:5: step 'ping-csm': unknown template 'new_customr' (no en/slack/new_customr.j2 "
            f"in {TEMPLATES}); did you mean 'new_customer'?",
        ),
        (
            ("then: escalate, escalate_to: [manager]", "then: escalate"),
            "trial.yaml:16:27: step 'approve-review': deadline 'then: escalate' has no one to escalate to "
            "(add escalate_to, e.g. [manager, executive])",
        ),
        (
            ("gates: review", "gates: reveiw"),
            "trial.yaml:15:5: step 'approve-review': gates 'reveiw', which is not a step of this playbook; "
            "did you mean 'review'?",
        ),
        (
            ("gates: review", "gates: welcome"),
            "trial.yaml:15:5: step 'approve-review': gates 'welcome', which comes before it (an approval guards "
            "a later step)",
        ),
        (
            ("escalate_to: [manager]", "escalate_to: [manager, boss]"),
            "trial.yaml:16:66: step 'approve-review': field 'deadline.escalate_to.1': unknown value 'boss' "
            "(expected one of: csm, manager, executive)",
        ),
        (
            ("then: escalate", "then: shout"),
            "trial.yaml:16:27: step 'approve-review': field 'deadline.then': unknown value 'shout' "
            "(expected one of: escalate, skip, proceed)",
        ),
        (
            ("playbook: follow-up", "playbook: folow-up"),
            "trial.yaml:25:5: step 'next': unknown playbook 'folow-up' (expected one of: follow-up, trial)",
        ),
        (
            ("    day: 4\n    kind: email", "    day: 4\n    at: 9am\n    kind: email"),
            "trial.yaml:19:5: step 'review': field 'at': '9am' is not a time of day as HH:MM (24-hour, e.g. 09:00)",
        ),
        (
            ("    template: new_customer", "    tempalte: new_customer"),
            "trial.yaml:11:5: step 'ping-csm': unknown field 'tempalte'",
        ),
        (
            ("    template: new_customer", "    tempalte: new_customer"),
            "trial.yaml:8:5: step 'ping-csm': field 'template' is required",
        ),
        (
            ("    kind: slack\n", ""),
            f"trial.yaml:8:5: step 'ping-csm': field 'kind' is required (expected one of: {KINDS})",
        ),
        (
            ("    to: csm", "    to: boss"),
            "trial.yaml:10:5: step 'ping-csm': field 'to': must be one of csm, manager, executive or a '#channel'",
        ),
        (
            ("  - id: ping-csm", "  - just a line\n  - id: ping-csm"),
            "trial.yaml:8:5: step 2: expected a mapping (key: value lines), got 'just a line'",
        ),
        (
            (
                "    kind: email\n    to: champion\n    template: onboarding_pilot_review",
                "    kind: email\n    to: champion\n    to: sponsor\n    template: onboarding_pilot_review",
            ),
            "trial.yaml:21:5: duplicate key 'to' (also at line 20; only the last one counts)",
        ),
        (
            ("id: welcome", "id: Welcome Email"),
            "trial.yaml:4:5: step 'Welcome Email': field 'id': 'Welcome Email' is not an id of lowercase letters, "
            "digits, '-' and '_' (at most 63)",
        ),
        (("name: Trial\n", ""), "trial.yaml:1:1: field 'name' is required"),
        (
            ("escalate_to: [manager]}", "escalate_to: [manager]"),
            "trial.yaml:17:3: invalid YAML: expected ',' or '}', but got '-'",
        ),
        (
            ("  - id: review\n", "  - id: review: x\n"),
            "trial.yaml:17:15: invalid YAML: mapping values are not allowed here",
        ),
    ],
)
def test_each_error_names_file_line_and_column(tmp_path, edit, expected):
    assert expected in errors(tmp_path, edit)


def test_start_playbook_cycle(tmp_path):
    back = FOLLOW_UP + "  - id: again\n    kind: start_playbook\n    playbook: trial\n"
    assert errors(tmp_path, follow_up=back) == [
        "trial.yaml:25:5: step 'next': start_playbook cycle follow-up → trial → follow-up"
    ]


def test_handover_in_the_middle_is_reported(tmp_path):
    moved = TRIAL.replace("  - id: next\n    day: 8\n    kind: start_playbook\n    playbook: follow-up\n", "")
    moved = moved.replace(
        "steps:\n", "steps:\n  - id: next\n    kind: start_playbook\n    playbook: follow-up\n"
    )
    (tmp_path / "trial.yaml").write_text(moved)
    (tmp_path / "follow-up.yaml").write_text(FOLLOW_UP)
    with pytest.raises(DefinitionError) as err:
        load_catalog(tmp_path, TEMPLATES)
    assert [str(i).replace(f"{tmp_path}/", "") for i in err.value.issues] == [
        "trial.yaml:5:5: step 'next': hands the run over, so the steps after it never run (make it the last "
        "step, or use mode: parallel)"
    ]


def test_a_playbook_id_defined_twice(tmp_path):
    assert errors(tmp_path, follow_up=FOLLOW_UP.replace("id: follow-up", "id: trial")) == [
        "trial.yaml:1:1: playbook id 'trial' already defined in follow-up.yaml"
    ]


def test_all_errors_at_once_across_files(tmp_path):
    found = errors(
        tmp_path,
        ("kind: approval", "kind: aproval"),
        ("id: ping-csm", "id: welcome"),
        ("template: onboarding_welcome", "template: nope"),
        ("playbook: follow-up", "playbook: gone"),
        follow_up=FOLLOW_UP.replace("kind: wait", "kind: wiat"),
    )
    assert [f.split(": ")[0] for f in found] == [
        "follow-up.yaml:5:5",
        "trial.yaml:7:5",
        "trial.yaml:8:5",
        "trial.yaml:14:5",
        "trial.yaml:25:5",
    ]


def test_csr_validate_prints_every_error_and_fails(tmp_path, monkeypatch):
    (tmp_path / "trial.yaml").write_text(TRIAL.replace("kind: approval", "kind: aproval"))
    (tmp_path / "follow-up.yaml").write_text(FOLLOW_UP)
    monkeypatch.setenv("PLAYBOOKS_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path.parent)
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 1
    assert f"{tmp_path.name}/trial.yaml:14:5: step 'approve-review': unknown kind 'aproval'" in result.output


# --- JSON Schema -------------------------------------------------------------------------------


def test_committed_schema_is_current():
    assert SCHEMA_PATH.read_text() == schema_text(), "run: csr schema --write"


def test_schema_accepts_the_shipped_playbooks_and_rejects_a_bad_kind():
    validator = jsonschema.Draft202012Validator(playbook_schema())
    for path in (REPO_ROOT / "playbooks").glob("*.yaml"):
        assert not list(validator.iter_errors(yaml.safe_load(path.read_text()))), path
    bad = yaml.safe_load(TRIAL)
    bad["steps"][2]["kind"] = "aproval"
    assert list(validator.iter_errors(bad))
    assert json.loads(SCHEMA_PATH.read_text())["properties"]["steps"]["minItems"] == 1


# --- fuzz: the loader never crashes, it only reports --------------------------------------------


def _loads(text: str) -> None:
    try:
        doc = read_yaml("fuzz.yaml", text=text)
        defn, issues = file_issues(doc)
    except DefinitionError as e:
        defn, issues = None, e.issues
    assert (defn is None) == bool(issues)
    for i in issues:
        assert i.file == "fuzz.yaml" and i.line >= 1 and i.column >= 1 and i.message
    if defn is not None:
        assert isinstance(defn, PlaybookDefinition)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 5000),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["escalate", "champion", "csm", "09:00", "day1", ""]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELDS = [
    "id",
    "kind",
    "day",
    "at",
    "to",
    "template",
    "gates",
    "deadline",
    "hours",
    "then",
    "escalate_to",
    "playbook",
    "mode",
    "title",
    "when",
    "fact",
    "equals",
    "due",
    "records",
    "checklist",
    "approver",
]
steps = st.dictionaries(st.sampled_from(FIELDS), st.one_of(values, st.sampled_from(STEP_KINDS)), max_size=8)
playbooks = st.fixed_dictionaries(
    {"id": values | st.just("x"), "name": values, "steps": st.lists(steps, max_size=6)},
    optional={"version": values, "default_time": values, "extra": values},
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=300))
def test_fuzz_random_text(text):
    _loads(text)


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(values, playbooks))
def test_fuzz_random_structures(data):
    _loads(yaml.safe_dump(data, allow_unicode=True))


ONBOARDING = (REPO_ROOT / "playbooks" / "onboarding.yaml").read_text().splitlines(keepends=True)


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(ONBOARDING) - 1),
            st.sampled_from(["drop", "dup", "cut", "junk"]),
            st.text(max_size=6),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_fuzz_mutated_onboarding(edits):
    lines = list(ONBOARDING)
    for at, how, junk in edits:
        at = min(at, len(lines) - 1)
        if not lines:
            break
        if how == "drop":
            del lines[at]
        elif how == "dup":
            lines.insert(at, lines[at])
        elif how == "cut":
            lines[at] = lines[at][: len(lines[at]) // 2] + "\n"
        else:
            lines[at] = junk + lines[at]
    _loads("".join(lines))


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(playbooks, min_size=1, max_size=3))
def test_fuzz_whole_catalog(books):
    with tempfile.TemporaryDirectory() as folder:
        for n, data in enumerate(books):
            Path(folder, f"p{n}.yaml").write_text(yaml.safe_dump(data))
        try:
            load_catalog(Path(folder), TEMPLATES)
        except DefinitionError as e:
            assert all(i.line >= 1 for i in e.issues)
