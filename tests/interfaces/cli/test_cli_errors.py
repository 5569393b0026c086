"""What the CLI says before it reaches Temporal: one line, never a traceback, and nothing done.
Temporal's address is a closed port: anything that tried to connect would say so instead."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from csrunner.config.settings import REPO_ROOT, ServiceConfig, Settings
from csrunner.interfaces.cli.main import main

CSR = str(Path(sys.executable).parent / "csr")


def csr(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CSR, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"TEMPORAL_ADDRESS": "127.0.0.1:1", "PATH": "/usr/bin:/bin", "COLUMNS": "80", **(env or {})},
    )


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    return done.stderr.strip()


@pytest.mark.parametrize("who", ["bob", "<script>x</script>", ""])
def test_as_must_be_a_team_member(who):
    err = one_line_error(csr("approve", "playbook:acme:onboarding", "day4-approve", "--as", who))
    assert err == (
        f"Error: --as {who!r} is not a person in the team file (known: maria, tom, carlos, elena, olga); "
        "nothing done"
    )


@pytest.mark.parametrize("command", [["migrate", "onboarding"], ["publish"]])
def test_only_ops_publish_and_migrate(command, tmp_path):
    err = one_line_error(csr(*command, "--as", "maria", "--registry", str(tmp_path / "reg")))
    what = "migrate runs" if command[0] == "migrate" else "publish playbooks"
    assert err.endswith(f"maria (csm) may not {what}: ops only; nothing done")
    assert not (tmp_path / "reg").exists()


def test_start_refuses_a_device_in_one_line():
    err = one_line_error(csr("start", "onboarding", "/dev/zero"))
    assert err == "Error: nothing started:\n/dev/zero:1:1: cannot read file: not a regular file"


def test_deal_closed_does_not_quote_a_file_that_is_no_account(tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$salt$hashhashhash:19000:0:99999:7:::\n")
    done = csr("deal-closed", str(secret))
    assert "hashhash" not in done.stderr + done.stdout
    assert one_line_error(done).endswith(
        "not an account file: expected a mapping with id, name, contacts and csm"
    )


@pytest.mark.parametrize("until", ["999999999", "-1", "tomorrow"])
def test_snooze_until_is_checked(until):
    done = csr("snooze", "r", "s", "--as", "maria", "--until", until)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "Invalid value for --until" in done.stderr


def test_unreachable_temporal_is_one_line():
    err = one_line_error(csr("show", "nosuch:run"))
    assert err == (
        "Error: cannot reach Temporal at 127.0.0.1:1 (connection refused): start it with `csr up`, "
        "or set TEMPORAL_ADDRESS"
    )


def test_unknown_playbook_is_one_line():
    err = one_line_error(csr("start", "onbording", str(REPO_ROOT / "examples" / "acme.yaml")))
    assert "unknown playbook 'onbording' (known: expansion, nps," in err


def test_published_says_when_nothing_was(tmp_path):
    result = CliRunner().invoke(main, ["published", "--registry", str(tmp_path / "reg")])
    assert result.exit_code == 0 and result.output.startswith("nothing published yet")


@pytest.mark.parametrize(
    "action, only",
    [
        ("approve", []),
        ("skip", []),
        ("snooze", ["--until"]),
        ("complete", ["--value"]),
        ("reassign", ["--to"]),
        ("resend", []),
    ],
)
def test_action_help_lists_only_its_options(action, only):
    out = CliRunner().invoke(main, [action, "--help"]).output
    listed = {o for o in ("--until", "--value", "--to") if o in out}
    assert listed == set(only) and "--as" in out and "--reason" in out


def test_local_token_files_are_readable_by_their_owner_only(tmp_path):
    from csrunner.interfaces.stack import _local_tokens

    settings = Settings(data_dir=tmp_path, team_file=REPO_ROOT / "team.yaml")
    config, path = _local_tokens(settings, ServiceConfig())
    files = [path, tmp_path / "deal_webhook_token.txt", tmp_path / "feed_token.txt"]
    assert [stat.S_IMODE(os.stat(f).st_mode) for f in files] == [0o600, 0o600, 0o600]
    assert set(config.api_tokens.values()) == {"maria", "tom", "carlos", "elena", "olga"}


def test_csr_up_suggests_the_readme_first_step(tmp_path):
    from csrunner.interfaces.stack import banner

    settings = Settings(data_dir=tmp_path)
    text = banner(settings, ServiceConfig(), tmp_path / "local-tokens.txt", 7233, 8233, 8000)
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "Try:       csr deal-closed examples/acme.yaml --deal 9001" in text
    assert ".venv/bin/csr deal-closed examples/acme.yaml --deal 9001" in readme
    assert "Warning" not in text
    warned = banner(settings, ServiceConfig(hubspot_client_secret="s"), tmp_path, 1, 2, 3)
    assert warned.splitlines()[-1].startswith(
        "Warning:   HUBSPOT_CLIENT_SECRET is set but HUBSPOT_ACCESS_TOKEN"
    )
    slack = banner(
        settings.model_copy(update={"slack_bot_token": "xoxb-1"}), ServiceConfig(), tmp_path, 1, 2, 3
    )
    assert slack.splitlines()[-1].startswith("Warning:   SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET")
