"""Resend reaches the run from the API and the inbox: a check-this-email task is marked
`resend` in the pending list, shows its message and a Resend button, and the action goes to the
run as `resend`. Temporal is stubbed: the pages and the API contract are what is under test."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from csrunner.config.settings import REPO_ROOT, ServiceConfig, Settings
from csrunner.domain.messages import Pending, RunView, UnsureEmail
from csrunner.interfaces.web import api, inbox, work
from csrunner.interfaces.web.app import create_app
from csrunner.interfaces.web.models import ActResult

OPENED = datetime(2099, 12, 1, 8, 0, tzinfo=UTC)
WID = "playbook:acme:onboarding"
EMAIL = UnsureEmail(
    key=f"{WID}/onboarding/day0-welcome",
    step_id="day0-welcome",
    to="ana@acme.example",
    subject="Welcome to Acme",
    text="Hola Ana, welcome aboard.",
    html="<p>Hola Ana</p>",
)


def _task(step_id: str, resend: UnsureEmail | None = None) -> Pending:
    preview = {"to": resend.to, "subject": resend.subject, "text": resend.text} if resend else {}
    return Pending(
        step_id=step_id,
        kind="task",
        title="Check whether this email reached the customer" if resend else "Kickoff call",
        assignee="maria",
        opened_at=OPENED,
        preview=preview,
        resend=resend,
    )


@pytest.fixture
def client(monkeypatch):
    run = RunView(
        workflow_id=WID,
        account_id="acme",
        playbook="onboarding",
        version=1,
        status="running",
        started_at=OPENED,
        current_step=None,
        day=0,
        pending=[_task("day0-welcome-check", EMAIL), _task("kickoff")],
        timeline=[],
        facts={},
    )
    acted = []

    async def fake_views(svc, query, what):
        return [(WID, "maria", run)]

    async def fake_perform(svc, who, workflow_id, action):
        acted.append((workflow_id, action))
        return ActResult(
            workflow_id=workflow_id, step_id=action.step_id, action=action.action, actor=who.id, pending=[]
        )

    monkeypatch.setattr(work, "_views", fake_views)
    monkeypatch.setattr(api, "perform", fake_perform)
    monkeypatch.setattr(inbox, "perform", fake_perform)
    app = create_app(
        Settings(team_file=REPO_ROOT / "team.yaml"), config=ServiceConfig(api_tokens={"tok-maria": "maria"})
    )
    c = TestClient(app)
    c.acted = acted  # type: ignore[attr-defined]
    return c


def test_the_api_marks_the_check_task_and_resends_through_the_run(client):
    auth = {"Authorization": "Bearer tok-maria"}
    items = {i["step_id"]: i for i in client.get("/api/pending", headers=auth).json()}
    assert items["day0-welcome-check"]["resend"] is True and items["kickoff"]["resend"] is False
    assert items["day0-welcome-check"]["preview"]["subject"] == "Welcome to Acme"
    r = client.post(
        "/api/actions/resend", json={"workflow_id": WID, "step_id": "day0-welcome-check"}, headers=auth
    )
    assert r.status_code == 200 and r.json()["action"] == "resend"
    ((wid, action),) = client.acted
    assert wid == WID and action.action == "resend" and action.actor == "maria"
    assert "/api/actions/resend" in client.get("/openapi.json").json()["paths"]


def test_the_inbox_shows_the_message_and_a_resend_button(client):
    assert client.post("/inbox/login", data={"token": "tok-maria"}, follow_redirects=False).status_code == 303
    page = client.get("/inbox").text
    check = page[page.index("Check whether this email reached the customer") :]
    assert "Welcome to Acme" in page and "Hola Ana, welcome aboard." in page
    assert 'value="resend"' in check.split("</form>")[0]
    assert page.count('value="resend"') == 1  # the kickoff task has none
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    form = {"workflow_id": WID, "step_id": "day0-welcome-check", "action": "resend", "csrf": csrf}
    r = client.post("/inbox/act", data=form, follow_redirects=False)
    assert r.status_code == 303 and client.acted[-1][1].action == "resend"
