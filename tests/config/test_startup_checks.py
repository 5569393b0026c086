"""Startup refuses a missing or malformed value with one line naming the variable, before
connecting: `csr worker` and `csr serve` print `error: <line>` per problem and exit 1."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from csrunner.config.database import check_database_url
from csrunner.config.settings import OUTBOX_SENDER, ServiceConfig, Settings
from csrunner.config.startup import ConfigError, or_exit, service_settings, worker_settings
from csrunner.interfaces.cli.main import main

#: Connecting to this address would fail with another message: the refusals come first.
CLOSED = {"TEMPORAL_ADDRESS": "127.0.0.1:1"}


@pytest.mark.parametrize(
    "env, line",
    [
        (
            {"SENDGRID_API_KEY": "SG.x"},
            "SENDGRID_API_KEY is set but MAIL_FROM is not: SendGrid needs a sender address",
        ),
        ({"MAIL_FROM": "success"}, "MAIL_FROM: 'success' is not an email address"),
        (
            {"DATABASE_URL": "mysql://u:p@db/csr"},
            "DATABASE_URL must be a PostgreSQL URL, postgresql://USER:PASSWORD@HOST:5432/DBNAME (got scheme 'mysql')",
        ),
        (
            {"DATABASE_URL": "postgresql://u:p@/csr"},
            "DATABASE_URL: no host (postgresql://USER:PASSWORD@HOST:5432/DBNAME)",
        ),
        (
            {"TEMPORAL_TLS_CERT": "/etc/hostname"},
            "TEMPORAL_TLS_CERT is set but TEMPORAL_TLS_KEY is not: a client certificate and its private key go together",
        ),
        (
            {"TEMPORAL_TLS_KEY": "/etc/hostname"},
            "TEMPORAL_TLS_KEY is set but TEMPORAL_TLS_CERT is not: a client certificate and its private key go together",
        ),
        (
            {"TEMPORAL_TLS_CA": "/nonexistent/ca.pem"},
            "TEMPORAL_TLS_CA: cannot read /nonexistent/ca.pem: No such file or directory",
        ),
        (
            {"TEMPORAL_TIMEOUT": "soon"},
            "TEMPORAL_TIMEOUT: input should be a valid number, unable to parse string as a number",
        ),
        (
            {"MAX_BODY_BYTES": "1MB"},
            "MAX_BODY_BYTES: input should be a valid integer, unable to parse string as an integer",
        ),
        (
            {"JOURNEY_SEARCH_ATTRIBUTES": "maybe"},
            "JOURNEY_SEARCH_ATTRIBUTES: input should be a valid boolean, unable to interpret input",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1"},
            "SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not: the approval buttons Slack posts to /slack/interactions cannot be verified",
        ),
    ],
)
def test_each_problem_is_one_line_naming_the_variable(monkeypatch, env, line):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        service_settings()
    assert refused.value.problems == [line]


def test_every_problem_is_said_at_once(monkeypatch):
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.x")
    monkeypatch.setenv("MAX_BODY_BYTES", "x")
    monkeypatch.setenv("TEMPORAL_TLS_KEY", "/nonexistent/client.key")
    with pytest.raises(ConfigError) as refused:
        service_settings()
    assert [p.split(" ", 1)[0] for p in refused.value.problems] == [
        "SENDGRID_API_KEY",
        "TEMPORAL_TLS_KEY",
        "TEMPORAL_TLS_KEY:",
        "MAX_BODY_BYTES:",
    ]


def test_a_complete_configuration_starts(monkeypatch, tmp_path):
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_text("cert")
    key.write_text("key")
    env = {
        "SENDGRID_API_KEY": "SG.x",
        "MAIL_FROM": "success@acme.example",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "DATABASE_URL": "postgresql://csr:pw@postgresql:5432/csr",
        "TEMPORAL_TLS_CERT": str(cert),
        "TEMPORAL_TLS_KEY": str(key),
        "TEMPORAL_TLS_CA": "",  # blank is unset
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings, config = service_settings()
    assert settings.mail_from == "success@acme.example" and settings.temporal_tls_ca is None
    assert worker_settings() == settings and config.slack_signing_secret == "s"


def test_the_worker_does_not_need_the_services_slack_secret(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    assert worker_settings().slack_bot_token == "xoxb-1"


def test_the_outbox_needs_no_sender():
    assert Settings().mail_from_address == "" and Settings().mail_from == OUTBOX_SENDER


@pytest.mark.parametrize(
    "url, ok",
    [
        ("postgresql://csr:pw@postgresql:5432/csr", True),
        ("postgres://csr@db.internal/csr?sslmode=require", True),
        ("postgresql://csr:pw@db:99999/csr", False),
        ("postgresql://csr:pw@db:port/csr", False),
        ("postgresql://csr:pw@db:5432", False),
        ("sqlite:///data/ledger.db", False),
        ("csr:pw@db/csr", False),
    ],
)
def test_database_urls(url, ok):
    problem = check_database_url(url)
    assert (problem is None) is ok
    assert problem is None or (problem.startswith("DATABASE_URL") and "pw" not in problem)  # no password


def test_or_exit_prints_each_problem_and_exits_1(capsys):
    def load():
        raise ConfigError(["A: one", "B: two"])

    with pytest.raises(SystemExit) as done:
        or_exit(load)
    assert done.value.code == 1
    assert capsys.readouterr().err == "error: A: one\nerror: B: two\n"


@pytest.mark.parametrize("command", [["worker"], ["serve", "--port", "1"]])
def test_csr_worker_and_serve_refuse_before_connecting(command):
    env = {**CLOSED, "SENDGRID_API_KEY": "SG.x", "DATABASE_URL": "postgresql://nohost", "MAX_BODY_BYTES": "x"}
    done = CliRunner().invoke(main, command, env=env)
    assert done.exit_code == 1
    lines = done.stderr.splitlines()
    assert lines[:2] == [
        "error: SENDGRID_API_KEY is set but MAIL_FROM is not: SendGrid needs a sender address",
        "error: DATABASE_URL: no database name (postgresql://USER:PASSWORD@HOST:5432/DBNAME)",
    ]
    expected = 3 if command[0] == "serve" else 2  # MAX_BODY_BYTES is the service's
    assert len(lines) == expected and "Traceback" not in done.output


def test_csr_up_refuses_a_malformed_variable_before_starting_anything(tmp_path):
    data = tmp_path / "data"
    done = CliRunner().invoke(main, ["up", "--data-dir", str(data)], env={"TEMPORAL_TIMEOUT": "x"})
    assert done.exit_code == 1 and not data.exists()
    assert (
        done.stderr
        == "error: TEMPORAL_TIMEOUT: input should be a valid number, unable to parse string as a number\n"
    )


def test_other_commands_name_a_malformed_variable():
    done = CliRunner().invoke(main, ["journey", "acme"], env={**CLOSED, "JOURNEY_SEARCH_ATTRIBUTES": "maybe"})
    assert done.exit_code == 1 and "Traceback" not in done.output
    assert "JOURNEY_SEARCH_ATTRIBUTES: input should be a valid boolean" in done.stderr


def test_service_config_alone_keeps_its_own_checks():
    assert (
        ServiceConfig(hubspot_client_secret="s3cret")
        .startup_problems()[0]
        .startswith("HUBSPOT_CLIENT_SECRET is set but HUBSPOT_ACCESS_TOKEN is not")
    )
