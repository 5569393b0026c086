"""Malformed account files and playbooks: a clear error naming file, line and field, and
nothing starts (the CLI checks everything before it talks to Temporal)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from csrunner.config.accounts import load_account, load_team
from csrunner.config.settings import REPO_ROOT
from csrunner.config.sourcemap import DefinitionError

CSR = str(Path(sys.executable).parent / "csr")
TEAM = load_team(REPO_ROOT / "team.yaml")

GOOD = """id: acme
name: Acme
timezone: Europe/Madrid
csm: maria
contacts:
  - {name: Ana, email: ana@acme.example, role: champion}
"""


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            GOOD.replace("timezone: Europe/Madrid", "timezone: Mars/Olympus"),
            "acme.yaml:3:1: field 'timezone': unknown time zone 'Mars/Olympus'",
        ),
        (
            GOOD.replace("ana@acme.example", "not-an-email"),
            "acme.yaml:6:17: field 'contacts.0.email': value is not a valid email address",
        ),
        (GOOD.replace("name: Acme\n", ""), "acme.yaml:1:1: field 'name' is required"),
        (GOOD + "plan_tier: gold\n", "acme.yaml:7:1: unknown field 'plan_tier'"),
        (GOOD.replace("  - {name: Ana", "  - {name: [Ana"), "acme.yaml:6:"),
        (
            GOOD.replace("id: acme", "id: 'acme corp!'"),
            "acme.yaml:1:1: field 'id': String should match pattern",
        ),
    ],
)
def test_account_file_errors_name_file_line_and_field(tmp_path, text, expected):
    path = tmp_path / "acme.yaml"
    path.write_text(text)
    with pytest.raises(DefinitionError) as err:
        load_account(path, TEAM)
    assert expected in str(err.value)


def test_cli_refuses_a_bad_account_before_touching_temporal(tmp_path):
    path = tmp_path / "acme.yaml"
    path.write_text(GOOD.replace("ana@acme.example", "nope"))
    done = subprocess.run(
        [CSR, "start", "onboarding", str(path)],
        capture_output=True,
        text=True,
        env={"TEMPORAL_ADDRESS": "127.0.0.1:1", "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 1
    assert "nothing started" in done.stderr and f"{path}:6:17: field 'contacts.0.email'" in done.stderr


def test_cli_refuses_a_bad_playbook_before_touching_temporal(tmp_path):
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    for f in (REPO_ROOT / "playbooks").glob("*.yaml"):
        (playbooks / f.name).write_text(f.read_text())
    onboarding = playbooks / "onboarding.yaml"
    onboarding.write_text(onboarding.read_text().replace("kind: approval", "kind: aproval"))
    done = subprocess.run(
        [CSR, "start", "onboarding", str(REPO_ROOT / "examples" / "acme.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        env={"TEMPORAL_ADDRESS": "127.0.0.1:1", "PLAYBOOKS_DIR": str(playbooks), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1
    line = next(i for i, l in enumerate(onboarding.read_text().splitlines(), 1) if "aproval" in l)
    assert f"onboarding.yaml:{line}:5: step 'day4-approve': unknown kind 'aproval'" in done.stderr
