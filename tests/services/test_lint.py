"""Template lint: variables checked against the context each step renders with, typos reported as
file:line, and the sandbox refusing Python internals."""

from __future__ import annotations

import ast
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from jinja2.sandbox import SecurityError
from temporalio.exceptions import ApplicationError

from activities.email import EmailActivities
from activities.render import Renderer
from activities.store import SqliteLedger
from csrunner.config.catalog import load_catalog
from csrunner.config.facts import load_facts_schema
from csrunner.config.settings import REPO_ROOT, Settings
from csrunner.domain.context import RUN_KEYS
from csrunner.domain.journey_view import run_context
from csrunner.domain.messages import EmailRequest
from csrunner.interfaces.cli.main import main
from csrunner.services.lint import lint_catalog, lint_source
from csrunner.services.template_samples import SYSTEM_SLACK, sample_account, sample_context

TEMPLATES = REPO_ROOT / "email_templates"
PLAYBOOK = """\
id: trial
name: Trial
steps:
  - {id: hello, kind: email, to: champion, template: trial_email}
  - {id: ping, kind: slack, to: csm, template: trial_slack}
"""
EMAIL = """\
{% block subject %}Welcome, {{ account.name }}{% endblock %}
{% block text %}Hi {{ contact.first_name }},
your CSM is {{ csm.name }} ({{ metrics.roi | default('n/a') }}){% if manager.phone is defined %}.{% endif %}
{% endblock %}
{% block html %}<p>{{ account.name }}</p>{% endblock %}
"""
SLACK = "{% block text %}New: {{ account.name }} (day {{ run.day }}){% endblock %}\n"


def lint_trial(tmp_path: Path, email: str = EMAIL, slack: str = SLACK) -> list[str]:
    """Lint the trial playbook with the real templates plus trial_email / trial_slack."""
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    (templates / "en" / "trial_email.j2").write_text(email)
    (templates / "en" / "slack" / "trial_slack.j2").write_text(slack)
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "trial.yaml").write_text(PLAYBOOK)
    catalog = load_catalog(tmp_path / "playbooks", templates)
    return [
        str(i).replace(f"{templates}/", "") for i in lint_catalog(catalog, templates, all_templates=False)
    ]


def test_shipped_templates_are_clean():
    catalog = load_catalog(REPO_ROOT / "playbooks", TEMPLATES)
    facts = load_facts_schema(REPO_ROOT / "playbooks" / "scoring" / "facts.yaml")
    assert [str(i) for i in lint_catalog(catalog, TEMPLATES, facts=facts)] == []


def test_clean_trial_templates_pass(tmp_path):
    assert lint_trial(tmp_path) == []


def test_a_typo_in_a_variable_is_an_error_with_file_and_line(tmp_path):
    bad = EMAIL.replace("your CSM is {{ csm.name }}", "your CSM is {{ csm.name }} at {{ acount.name }}")
    assert lint_trial(tmp_path, email=bad) == [
        "en/trial_email.j2:3: 'acount' is undefined; did you mean 'account'? (this template can use: "
        "account, contact, csm, executive, facts, manager, metrics, parts, run)"
    ]


def test_a_typo_in_an_attribute_is_an_error(tmp_path):
    bad = EMAIL.replace("{{ contact.first_name }}", "{{ contact.frist_name }}")
    assert lint_trial(tmp_path, email=bad) == [
        "en/trial_email.j2:2: 'contact.frist_name' is undefined; did you mean 'first_name'? "
        "(contact has: email, first_name, locale, name, role)"
    ]


def test_slack_steps_have_no_contact(tmp_path):
    bad = "{% block text %}Hi {{ contact.name }}{% endblock %}"
    assert lint_trial(tmp_path, slack=bad) == [
        "en/slack/trial_slack.j2:1: 'contact' is undefined (this template can use: account, csm, executive, "
        "facts, manager, metrics, run)"
    ]


def test_syntax_error_and_missing_block(tmp_path):
    assert lint_trial(tmp_path, email=EMAIL.replace("{% endif %}", "")) == [
        "en/trial_email.j2:4: syntax error: Encountered unknown tag 'endblock'. You probably made a nesting "
        "mistake. Jinja is expecting this tag, but currently looking for 'elif' or 'else' or 'endif'. The "
        "innermost block that needs to be closed is 'if'."
    ]
    assert lint_trial(tmp_path / "b", email=EMAIL.replace("{% block html %}", "{% block htm %}")) == [
        "en/trial_email.j2:1: missing block 'html' (an email template needs: subject, text, html)"
    ]


def test_guards_and_open_namespaces():
    ctx = sample_context("email")
    ok = (
        "{{ metrics.anything }}{{ facts.first_value_reached }}{{ csm.nickname | default('') }}"
        "{% if account.tier is defined %}{{ account.tier }}{% endif %}{% set x = 1 %}{{ x }}{{ loop_var | d(1) }}"
    )
    assert lint_source(ok, "ok.j2", ctx) == []
    assert [i.message for i in lint_source("{{ nobody.name | default('') }}", "x.j2", ctx)] == [
        "'nobody' is undefined (this template can use: account, contact, csm, executive, facts, manager, "
        "metrics, run)"
    ]


# --- the sandbox -------------------------------------------------------------------------------

EVIL = (
    "{% block subject %}x{% endblock %}{% block text %}{{ ''.__class__.__mro__ }}{% endblock %}"
    "{% block html %}x{% endblock %}"
)


def test_lint_reports_reaching_python_internals(tmp_path):
    assert lint_trial(tmp_path, email=EVIL) == [
        "en/trial_email.j2:1: '__mro__' reaches Python internals: the sandbox refuses it",
        "en/trial_email.j2:1: '__class__' reaches Python internals: the sandbox refuses it",
    ]


def test_the_sandbox_refuses_python_internals_at_render_time(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "evil.j2").write_text(EVIL)
    renderer = Renderer(tmp_path)
    account = sample_account()
    with pytest.raises(SecurityError, match="access to attribute '__class__' of 'str' object is unsafe"):
        renderer.render_blocks("evil", "en", sample_context("email"), ("text",))
    # through the email activity: a permanent failure, never retried, never sent
    email = EmailActivities(
        Settings(data_dir=tmp_path, templates_dir=tmp_path),
        renderer,
        SqliteLedger(tmp_path / "ledger.sqlite3"),
    )
    req = EmailRequest(key="k", account=account, contact=account.contacts[0], template="evil")
    with pytest.raises(ApplicationError, match="unsafe") as err:
        email.send_email(req)
    assert err.value.non_retryable and not (tmp_path / "outbox").exists()


# --- the sample context stays in step with the workflow ------------------------------------------


def _source(path: str) -> ast.Module:
    return ast.parse((REPO_ROOT / path).read_text())


def test_run_keys_match_the_workflow():
    """The workflow builds `run` as a RunContext with every key; the sample has the same keys."""
    fn = next(
        n
        for n in ast.walk(_source("workflows/run.py"))
        if isinstance(n, ast.FunctionDef) and n.name == "run_ctx"
    )
    call = next(
        n for n in ast.walk(fn) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "RunContext"
    )
    assert tuple(k.arg for k in call.keywords) == RUN_KEYS
    assert RUN_KEYS == (
        "playbook",
        "playbook_name",
        "version",
        "step",
        "day",
        "started_on",
        "local_date",
        "workflow_id",
    )
    assert tuple(sample_context("email")["run"]) == RUN_KEYS
    # the journey builds its own `run` for what it sends: the same keys
    journey_run = run_context(None, datetime(2025, 1, 1, tzinfo=UTC), "journey:acme")
    assert tuple(journey_run) == RUN_KEYS
    assert (
        tuple(
            sample_context(
                "slack", (), "kickoff", load_catalog(REPO_ROOT / "playbooks").definitions["onboarding"]
            )["run"]
        )
        == RUN_KEYS
    )


def test_system_slack_templates_match_the_notifier():
    calls = {}
    for n in ast.walk(_source("workflows/common.py")):
        if (
            isinstance(n, ast.Call)
            and getattr(n.func, "attr", "") == "slack"
            and len(n.args) >= 3
            and isinstance(n.args[2], ast.Constant)
        ):
            calls[n.args[2].value] = tuple(k.arg for k in n.keywords if k.arg not in ("update", "buttons"))
    assert calls == SYSTEM_SLACK


def test_csr_lint_command(tmp_path, monkeypatch):
    lint_trial(tmp_path)  # lays out the files
    (tmp_path / "templates" / "en" / "trial_email.j2").write_text(
        EMAIL.replace("{{ csm.name }}", "{{ cms.name }}")
    )
    monkeypatch.setenv("PLAYBOOKS_DIR", str(tmp_path / "playbooks"))
    monkeypatch.setenv("TEMPLATES_DIR", str(tmp_path / "templates"))
    result = CliRunner().invoke(main, ["lint"])
    assert result.exit_code == 1
    assert "trial_email.j2:3: 'cms' is undefined; did you mean 'csm'?" in result.output


def test_lint_knows_the_declared_account_facts():
    facts = load_facts_schema(REPO_ROOT / "playbooks" / "scoring" / "facts.yaml")
    ctx = sample_context("email", facts=facts)
    ok = "{{ account.facts.revenue_generated }}{{ account.facts.tier | default('') }}"
    assert lint_source(ok, "ok.j2", ctx) == []
    typo = (
        "{{ account.facts.revenue_generatd }}\n"
        "{% if account.facts.industy_open_rate_percent is defined %}x{% endif %}\n"
        "{{ account.facts.arr | default('') }}"
    )
    declared = ", ".join(sorted(facts.names()))
    assert [str(i) for i in lint_source(typo, "t.j2", ctx)] == [
        "t.j2:1: 'account.facts.revenue_generatd' is not a declared fact; did you mean 'revenue_generated'? "
        f"(playbooks/scoring/facts.yaml has: {declared})",
        "t.j2:2: 'account.facts.industy_open_rate_percent' is not a declared fact; did you mean "
        f"'industry_open_rate_percent'? (playbooks/scoring/facts.yaml has: {declared})",
        f"t.j2:3: 'account.facts.arr' is not a declared fact (playbooks/scoring/facts.yaml has: {declared})",
    ]
