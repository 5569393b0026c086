"""The account facts schema (playbooks/scoring/facts.yaml): loaded with file:line:column errors like
the scoring models, checked by `csr validate`, and applied to the account file's `facts:`."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from csrunner.config.accounts import load_account, load_team
from csrunner.config.facts import load_facts_schema
from csrunner.config.settings import REPO_ROOT
from csrunner.config.sourcemap import DefinitionError
from csrunner.interfaces.cli.main import main

SHIPPED = REPO_ROOT / "playbooks" / "scoring" / "facts.yaml"
TEAM = load_team(REPO_ROOT / "team.yaml")


def problems(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as err:
        load_facts_schema("facts.yaml", text)
    return [str(i) for i in err.value.issues]


def test_the_shipped_schema_declares_what_the_seed_emails_need():
    schema = load_facts_schema(SHIPPED)
    assert {"revenue_generated", "roi_percent", "industry_open_rate_percent", "open_issues"} <= set(
        schema.names()
    )
    assert (schema.get("revenue_generated").type, schema.get("contract_end").type) == ("money", "date")


def test_schema_errors_name_file_line_and_field():
    assert problems("facts:\n  - {name: arr, type: money, label: ARR}\n  - {name: tier, type: txt}\n") == [
        "facts.yaml:3:18: field 'facts.1.type': unknown value 'txt' (expected one of: number, money, "
        "percent, text, date, list)",
        "facts.yaml:3:5: field 'facts.1.label' is required",
    ]
    assert problems("facts:\n  - {name: Bad Name, type: text, label: X}\n") == [
        "facts.yaml:2:6: field 'facts.0.name': String should match pattern '^[a-z][a-z0-9_]{0,49}$'"
    ]
    assert problems("- just a list\n") == [
        "facts.yaml:1:1: a facts file must be a mapping with a list 'facts'"
    ]
    assert (
        "declared twice"
        in problems("facts:\n  - {name: a, type: text, label: A}\n  - {name: a, type: text, label: B}\n")[0]
    )


def test_csr_validate_reports_a_broken_facts_file(tmp_path, monkeypatch):
    playbooks = tmp_path / "playbooks"
    shutil.copytree(REPO_ROOT / "playbooks", playbooks)
    (playbooks / "scoring" / "facts.yaml").write_text(
        "facts:\n  - {name: revenue_generated, type: money, label: Revenue, min: 10, max: 1}\n"
    )
    monkeypatch.setenv("PLAYBOOKS_DIR", str(playbooks))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 1
    assert "playbooks/scoring/facts.yaml:2:5: field 'facts.0': min 10.0 is above max 1.0" in result.output
    # the templates that read account.facts.revenue_generated are then reported too, not skipped
    assert "retention_healthy.j2" in result.output


def test_account_file_facts_are_checked_at_their_line(tmp_path):
    schema = load_facts_schema(SHIPPED)
    good = load_account(REPO_ROOT / "examples" / "northwind.yaml", TEAM, schema)
    assert good.facts == {
        "tier": "Gold",
        "contract_end": "2027-03-31",
        "top_campaign": "Spring collection launch",
        "industry_open_rate_percent": 21.5,
    }
    text = (REPO_ROOT / "examples" / "northwind.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("  tier: Gold", "  tier: Gold\n  arr: 120000"))
    with pytest.raises(DefinitionError) as err:
        load_account(bad, TEAM, schema)
    line = text.splitlines().index("  tier: Gold") + 2
    assert str(err.value.issues[0]).startswith(f"{bad}:{line}:3: field 'facts.arr': unknown fact 'arr'")
    with pytest.raises(DefinitionError, match="unknown fact 'tier'"):
        load_account(REPO_ROOT / "examples" / "northwind.yaml", TEAM)  # no schema: no facts
