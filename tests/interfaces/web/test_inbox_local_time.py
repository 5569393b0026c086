"""The inbox speaks to the person signed in: due times in their zone (team.yaml), accounts by
name. The run listing is stubbed (no Temporal): the pages are what is under test."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from csrunner.config.settings import REPO_ROOT, ServiceConfig, Settings
from csrunner.domain.messages import Pending, RunView, StepRecord
from csrunner.interfaces.web import work
from csrunner.interfaces.web.app import create_app

DUE = datetime(2099, 12, 2, 15, 46, 31, 874010, tzinfo=UTC)  # far ahead: never overdue
OPENED = datetime(2099, 12, 1, 8, 0, tzinfo=UTC)


def _run() -> RunView:
    return RunView(
        workflow_id="playbook:acme:onboarding",
        account_id="acme",
        account_name="Acme Retail",
        playbook="onboarding",
        version=1,
        status="running",
        started_at=OPENED,
        current_step="kickoff",
        day=0,
        pending=[
            Pending(
                step_id="kickoff",
                kind="task",
                title="Kickoff call",
                assignee="tom",
                opened_at=OPENED,
                due_at=DUE,
            )
        ],
        timeline=[
            StepRecord(step_id="kickoff", kind="task", outcome="created", at=OPENED, day=0),
        ],
        facts={},
    )


@pytest.fixture
def inbox(monkeypatch):
    async def fake_views(svc, query, what):
        return [("playbook:acme:onboarding", "tom", _run())]

    async def fake_facts(svc, account_id):
        return {"tier": "Gold", "open_issues": ["SSO login", "CSV exports"], "contract_end": "2027-03-31"}

    monkeypatch.setattr(work, "_views", fake_views)
    monkeypatch.setattr(work, "_journey_facts", fake_facts)
    settings = Settings(team_file=REPO_ROOT / "team.yaml")
    app = create_app(settings, config=ServiceConfig(api_tokens={"tok-tom": "tom", "tok-carlos": "carlos"}))
    return TestClient(app)


def _sign_in(client: TestClient, token: str) -> None:
    r = client.post("/inbox/login", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303


def test_a_csm_in_new_york_sees_the_task_due_in_new_york_time(inbox):
    _sign_in(inbox, "tok-tom")  # Tom Becker: timezone America/New_York in team.yaml
    page = inbox.get("/inbox").text
    assert "For Tom Becker · due" in page
    assert ">Wed 2 Dec 2099, 10:46 (New York)</time>" in page
    assert 'class="account">Acme Retail</a>' in page
    text = re.sub(r"<[^>]+>", "", page)  # what the person reads (the <time> attribute stays ISO)
    assert "15:46" not in text and "UTC" not in text


def test_his_manager_in_madrid_sees_the_same_task_in_madrid_time(inbox):
    _sign_in(inbox, "tok-carlos")  # no zone of his own: the team's, Europe/Madrid
    page = inbox.get("/inbox").text
    assert ">Wed 2 Dec 2099, 16:46 (Madrid)</time>" in page


def test_the_account_page_is_titled_with_the_accounts_name(inbox):
    _sign_in(inbox, "tok-tom")
    page = inbox.get("/inbox/accounts/acme").text
    assert "<title>Acme Retail · timeline · CS playbooks</title>" in page
    assert '<h1>Acme Retail <small class="muted">acme</small></h1>' in page
    assert ">Tue 1 Dec 2099, 03:00 (New York)</time>" in page  # 08:00 UTC


def test_the_account_page_shows_its_facts_by_label_in_the_schema_order(inbox):
    _sign_in(inbox, "tok-tom")
    page = inbox.get("/inbox/accounts/acme").text
    rows = re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", page)
    assert rows == [  # facts.yaml's order: open issues, contract end, tier
        ("Open issues", "SSO login, CSV exports"),
        ("Contract end date", "2027-03-31"),
        ("Customer tier", "Gold"),
    ]


def test_who_acted_first_is_told_in_the_refused_persons_zone():
    message = (
        "step 'day4-approve' is not pending: already approved by María García (maria) at 2026-12-01 18:30 UTC"
    )
    assert work.in_zone(message, "America/New_York") == (
        "step 'day4-approve' is not pending: already approved by María García (maria) "
        "at Tue 1 Dec 2026, 13:30 (New York)"
    )
    assert work.in_zone("nothing to convert at 18:30", "America/New_York") == "nothing to convert at 18:30"
