"""Input files are limited before they are parsed: regular files only, under a size cap, YAML
without aliases; people come from the team file only; errors never quote what a file holds."""

from __future__ import annotations

import pytest

from csrunner.config.accounts import load_account, load_team
from csrunner.config.settings import REPO_ROOT
from csrunner.config.sourcemap import MAX_FILE_BYTES, DefinitionError, read_yaml

TEAM = load_team(REPO_ROOT / "team.yaml")
GOOD = """id: acme
name: Acme
timezone: Europe/Madrid
csm: maria
contacts:
  - {name: Ana, email: ana@acme.example, role: champion}
"""

# 381 bytes: nine levels of nine aliases, 9^9 (387 million) strings once expanded.
BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)),
        "id: onboarding",
        "name: laughs",
        "steps: [*i]",
    ]
)


def test_an_alias_bomb_is_refused_at_the_first_alias(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    with pytest.raises(DefinitionError) as err:
        read_yaml(path)
    assert str(err.value) == f"{path}:2:8: invalid YAML: aliases (*a) are not allowed: write it out"


def test_csr_validate_reports_the_bomb_in_one_line(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from csrunner.interfaces.cli.main import main

    (tmp_path / "bomb.yaml").write_text(BOMB)
    monkeypatch.setenv("PLAYBOOKS_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 1
    assert "bomb.yaml:2:8: invalid YAML: aliases (*a) are not allowed" in result.output


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "/tmp"])
def test_only_regular_files_are_read(special):
    with pytest.raises(DefinitionError) as err:
        read_yaml(special)
    assert str(err.value) == f"{special}:1:1: cannot read file: not a regular file"


def test_files_over_the_cap_are_not_read(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("x: " + "y" * MAX_FILE_BYTES)
    with pytest.raises(DefinitionError, match="cannot read file: larger than 1024 KiB"):
        read_yaml(path)


def test_a_file_that_is_no_account_is_not_quoted(tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$salt$hashhashhash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    with pytest.raises(DefinitionError) as err:
        load_account(secret, TEAM)
    assert (
        str(err.value)
        == f"{secret}:1:1: not an account file: expected a mapping with id, name, contacts and csm"
    )


def test_unknown_keys_that_are_not_names_are_not_echoed(tmp_path):
    path = tmp_path / "acme.yaml"
    path.write_text(GOOD + "root:$6$salt$hash: x\n")
    with pytest.raises(DefinitionError) as err:
        load_account(path, TEAM)
    assert "hash" not in str(err.value) and "unknown field (a key that is not a field name)" in str(err.value)


@pytest.mark.parametrize("role", ["csm", "manager", "executive"])
def test_a_person_written_out_in_an_account_is_refused(tmp_path, role):
    person = "{id: tom, name: Tom Becker, email: attacker@evil.example, slack_user: UATTACKER}"
    text = GOOD.replace("csm: maria\n", "") + f"csm: maria\n{role}: {person}\n"
    if role == "csm":
        text = GOOD.replace("csm: maria", f"csm: {person}")
    path = tmp_path / "acme.yaml"
    path.write_text(text)
    with pytest.raises(DefinitionError) as err:
        load_account(path, TEAM)
    assert f"field '{role}': name a person by id from the team file" in str(err.value)


def test_an_unknown_person_id_is_named(tmp_path):
    path = tmp_path / "acme.yaml"
    path.write_text(GOOD.replace("csm: maria", "csm: bob"))
    with pytest.raises(DefinitionError) as err:
        load_account(path, TEAM)
    assert str(err.value) == f"{path}:4:1: field 'csm': unknown person id 'bob' (not in the team file)"


def test_people_come_with_the_team_file(tmp_path):
    path = tmp_path / "acme.yaml"
    path.write_text(GOOD)
    account = load_account(path, TEAM)
    assert (account.csm.email, account.manager.id, account.executive.id) == (
        "maria@cs.example.com",
        "carlos",
        "elena",
    )


def test_the_team_file_refers_only_to_its_own_people(tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text(
        "executive: elena\npeople:\n"
        "  - {id: maria, name: María, email: maria@x.example, role: csm, manager: carlos}\n"
    )
    with pytest.raises(DefinitionError) as err:
        load_team(path)
    assert "executive 'elena' is not one of the people" in str(err.value)


def test_each_person_reads_times_in_their_zone_else_the_teams(tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text(
        "timezone: Europe/Madrid\npeople:\n"
        "  - {id: maria, name: María, email: maria@x.example}\n"
        "  - {id: tom, name: Tom, email: tom@x.example, timezone: America/New_York}\n"
    )
    team = load_team(path)
    assert [(p.id, p.timezone) for p in team.people] == [
        ("maria", "Europe/Madrid"),
        ("tom", "America/New_York"),
    ]
    path.write_text("people:\n  - {id: maria, name: María, email: maria@x.example}\n")
    assert load_team(path).people[0].timezone == "UTC"  # no zone anywhere: UTC


def test_an_unknown_zone_in_the_team_file_is_named_with_its_line(tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text(
        "people:\n"
        "  - {id: maria, name: María, email: maria@x.example}\n"
        "  - {id: tom, name: Tom, email: tom@x.example, timezone: America/Nueva_York}\n"
    )
    with pytest.raises(DefinitionError) as err:
        load_team(path)
    assert str(err.value) == (
        f"{path}:3:48: field 'people.1.timezone': unknown time zone 'America/Nueva_York' "
        "(use an IANA name such as Europe/Madrid)"
    )


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("industry", "x" * 201, "field 'industry': String should have at most 200 characters"),
        ("survey_url", "javascript:alert(1)", "field 'survey_url': must be an https:// URL"),
        ("timezone", "Mars/Olympus", "field 'timezone': unknown time zone 'Mars/Olympus'"),
    ],
)
def test_account_values_within_limits(tmp_path, field, value, expected):
    path = tmp_path / "acme.yaml"
    path.write_text(GOOD.replace("timezone: Europe/Madrid\n", "") + f"{field}: '{value}'\n")
    with pytest.raises(DefinitionError) as err:
        load_account(path, TEAM)
    assert expected in str(err.value)
