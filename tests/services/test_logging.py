"""LOG_FORMAT: readable text by default, or one JSON object per line with the event's ids (account,
workflow, run, step) and never a contact's email address."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest
from support import acme
from temporalio.runtime import Runtime
from temporalio.testing import ActivityEnvironment

from activities.email import EmailActivities
from activities.render import Renderer
from activities.store import SqliteLedger
from csrunner.config.settings import Settings
from csrunner.domain.messages import EmailRequest
from csrunner.services.telemetry import configure_logging, telemetry_config


@pytest.fixture
def logs(capsys):
    """configure_logging for one test, then the process's logging and runtime as they were."""
    root, runtime = logging.getLogger(), Runtime.default()
    handlers, level = root.handlers[:], root.level

    def configure(**settings) -> None:
        configure_logging(Settings(**settings))

    yield configure
    root.handlers[:], root.level = handlers, level
    Runtime.set_default(runtime, error_if_already_set=False)


def send_welcome(tmp_path) -> str:
    """The welcome email, written to the outbox by the real activity in an activity context."""
    settings = Settings(data_dir=tmp_path)
    email = EmailActivities(settings, Renderer(settings.templates_dir), SqliteLedger(tmp_path / "l.db"))
    account = acme()
    req = EmailRequest(
        key="journey:acme/onboarding/1/onboarding/day0-welcome",
        account=account,
        contact=account.contact("champion"),
        template="onboarding_welcome",
    )
    env = ActivityEnvironment()
    env.info = replace(env.info, workflow_id="journey:acme/onboarding/1", workflow_run_id="run-1")
    env.run(email.send_email, req)
    return req.contact.email


def test_json_lines_carry_the_ids_and_no_email(logs, capsys, tmp_path):
    logs(log_format="json")
    address = send_welcome(tmp_path)
    logging.getLogger("temporalio.activity").warning("SendGrid: 400 %s is not a valid address", address)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]  # each line is JSON
    sent = next(line for line in lines if line["message"] == "email sent (outbox)")
    assert sent["level"] == "INFO" and sent["logger"] == "temporalio.activity"
    assert sent["time"].endswith("Z")
    assert {k: sent[k] for k in ("account_id", "workflow_id", "run_id", "step_id", "activity_type")} == {
        "account_id": "acme",
        "workflow_id": "journey:acme/onboarding/1",
        "run_id": "run-1",
        "step_id": "day0-welcome",
        "activity_type": "unknown",
    }
    assert lines[-1]["message"] == "SendGrid: 400 <email> is not a valid address"
    assert address not in json.dumps(lines)


def test_text_is_the_default_readable_and_without_colours(logs, capsys, tmp_path):
    assert Settings().log_format == "text"
    logs()
    address = send_welcome(tmp_path)
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "email sent (outbox)" in line)
    assert " INFO temporalio.activity: email sent (outbox) [account_id=acme workflow_id=journey:acme" in line
    assert "step_id=day0-welcome" in line and "\x1b[" not in err and address not in err


def test_bad_log_settings_name_the_variable(monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="log_format"):
        Settings()
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    assert (Settings().log_format, Settings().log_level) == ("json", "DEBUG")


def test_the_sdk_core_logs_through_python_logging_not_the_console():
    config = telemetry_config(Settings()).logging
    assert config is not None and config.forwarding is not None  # else: ANSI lines on stderr
    assert config.forwarding.logger is logging.getLogger("temporalio.core")
