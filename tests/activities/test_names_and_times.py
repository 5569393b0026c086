"""People read names, not ids, and times in their own zone: the CSM's task card, Slack messages
to the team, and the customer's email in the outbox (Date and display names)."""

from __future__ import annotations

import email
import email.policy
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from support import acme

from activities.email import EmailActivities
from activities.render import Renderer
from activities.slack import SlackActivities
from activities.store import SqliteLedger
from activities.tasks import TaskActivities
from csrunner.config.accounts import load_team
from csrunner.config.settings import REPO_ROOT, Settings
from csrunner.domain.messages import EmailRequest, SlackRequest, TaskRequest

DUE = datetime(2026, 12, 2, 15, 46, 31, 874010, tzinfo=UTC)
TEAM = load_team(REPO_ROOT / "team.yaml")


def _tom():
    """Tom Becker, a CSM in New York (team.yaml), as an account carries him."""
    member = TEAM.get("tom")
    assert member is not None and member.timezone == "America/New_York"
    return acme().csm.model_validate(member.model_dump(exclude={"role", "manager"}))


def _settings(tmp_path):
    return Settings(data_dir=tmp_path)


def test_a_csm_in_new_york_sees_the_task_due_in_new_york_time(tmp_path):
    settings = _settings(tmp_path)
    tasks = TaskActivities(settings, SqliteLedger(tmp_path / "l.db"))
    account = acme().model_copy(update={"csm": _tom()})
    tasks.create_task(
        TaskRequest(
            key="run/onboarding/kickoff",
            account=account,
            assignee=account.csm,
            title="Kickoff call",
            due_at=DUE,
        )
    )
    card = (settings.outbox_dir / "tasks" / "run_onboarding_kickoff.md").read_text()
    assert card.splitlines()[:4] == [
        "# Kickoff call",
        "",
        "- Account: Acme Retail (acme)",
        "- Assignee: Tom Becker <tom@cs.example.com>",
    ]
    assert "- Due: Wed 2 Dec 2026, 10:46 (New York)" in card  # 15:46 UTC, five hours behind
    assert "2026-12-02T15" not in card and ".874010" not in card


def test_a_person_without_a_zone_reads_the_teams_default():
    maria = TEAM.get("maria")
    assert maria is not None and maria.timezone == "Europe/Madrid"  # team.yaml's `timezone`
    assert acme().csm.timezone == "Europe/Madrid"  # and the account file's CSM carries it


def _slack(tmp_path):
    settings = _settings(tmp_path)
    return SlackActivities(settings, Renderer(REPO_ROOT / "email_templates"), SqliteLedger(tmp_path / "l.db"))


def _card(assignee: str) -> dict:
    return {
        "step_id": "day4-approve",
        "title": "Approve the review email",
        "assignee": assignee,
        "due_at": DUE.isoformat(),
        "preview": {},
    }


def test_an_escalation_names_the_people_and_reads_in_the_managers_zone(tmp_path):
    account = acme()  # CSM maria, manager carlos: both in Madrid (UTC+1 in December)
    req = SlackRequest(
        key=f"k-{uuid.uuid4().hex}",
        account=account,
        to="U01CARLOS",
        template="escalation",
        context={
            "item": _card("maria"),
            "escalation": {"to": "Carlos Ruiz", "role": "manager", "reason": "unanswered for 24 h"},
        },
    )
    text = _slack(tmp_path).post_slack(req).text
    assert text == (
        ":rotating_light: *Escalation to Carlos Ruiz (manager)* - Acme Retail\n"
        '"Approve the review email" (day4-approve) is overdue (due Wed 2 Dec 2026, 16:46 (Madrid)): '
        "unanswered for 24 h. Assigned to María García; CSM María García."
    )


def test_an_approval_request_to_a_csm_in_new_york_shows_the_deadline_in_new_york(tmp_path):
    account = acme().model_copy(update={"csm": _tom()})
    req = SlackRequest(
        key=f"k-{uuid.uuid4().hex}",
        account=account,
        to="U01TOM",
        template="approval_request",
        context={"approval": _card("tom"), "reminder": False},
    )
    text = _slack(tmp_path).post_slack(req).text
    assert text.endswith("_Answer by Wed 2 Dec 2026, 10:46 (New York), or it escalates._")
    assert text.startswith("*Approval needed* - Acme Retail: Approve the review email")


def test_the_outbox_email_has_a_date_and_display_names(tmp_path):
    settings = _settings(tmp_path)
    mail = EmailActivities(settings, Renderer(REPO_ROOT / "email_templates"), SqliteLedger(tmp_path / "l.db"))
    account = acme()
    before = datetime.now(UTC).replace(microsecond=0)
    mail.send_email(
        EmailRequest(
            key="run/onboarding/welcome",
            account=account,
            contact=account.contacts[0],
            template="onboarding_welcome",
        )
    )
    raw = (settings.outbox_dir / "email" / "run_onboarding_welcome.eml").read_bytes()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(msg["To"]) == "Ana López <ana@acme.example>"
    assert str(msg["From"]) == f"{settings.mail_from_name} <{settings.mail_from}>"
    sent = parsedate_to_datetime(str(msg["Date"]))
    assert before <= sent <= datetime.now(UTC) + timedelta(seconds=1)
    # written in the customer's zone: Madrid is UTC+1 in winter, UTC+2 in summer
    assert sent.utcoffset() in (timedelta(hours=1), timedelta(hours=2))


def test_a_decision_by_someone_outside_the_account_is_named_from_the_team_file(tmp_path):
    req = SlackRequest(
        key=f"k-{uuid.uuid4().hex}",
        account=acme(),
        to="U01MARIA",
        template="approval_decided",
        context={
            "approval": {"title": "Approve the review email", "step_id": "day4-approve"},
            "decision": {"action": "skip", "actor": "olga", "reason": "customer asked to wait"},
        },
    )
    text = _slack(tmp_path).post_slack(req).text
    assert text == (
        ":fast_forward: Skipped by Olga Ops - Acme Retail: Approve the review email\nReason: customer asked to wait"
    )
