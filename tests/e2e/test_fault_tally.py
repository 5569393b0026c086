"""The fault-injection tally (fault_tally.py) on traffic made by hand, no Temporal: it must see an
email sent twice, one lost, a check task standing for an unknown outcome, a missing task card, a
missing Slack message, a Slack retry that came before its Retry-After and a SendGrid retry before
its X-RateLimit-Reset."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest
from fakes import FakeSendGrid, FakeSlack
from fault_injection import FAST_PLAYBOOK, PLAYBOOK, accounts
from fault_tally import Expected, tally

from activities.outbox import file_name
from csrunner.config.catalog import load_catalog
from csrunner.config.settings import REPO_ROOT
from csrunner.domain.messages import RunView, StepRecord


@pytest.fixture
def world(tmp_path):
    defn = load_catalog(FAST_PLAYBOOK.parent, REPO_ROOT / "email_templates").definitions[PLAYBOOK]
    accts, refused = accounts(2)
    exp = Expected.of(defn, accts, accts[1].id)
    with FakeSendGrid() as sg, FakeSlack() as slack:
        sg.reject_address(refused)
        yield exp, accts, sg, slack, tmp_path


def mail(sg: FakeSendGrid, key: str, to: str = "champ@fault-000.example") -> int:
    body = {
        "personalizations": [{"to": [{"email": to}]}],
        "from": {"email": "cs@example.com"},
        "subject": "Welcome",
        "content": [{"type": "text/plain", "value": "Hi"}],
        "custom_args": {"idempotency_key": key},
    }
    auth = {"Authorization": "Bearer SG.test-key"}
    return httpx.post(f"{sg.url}/v3/mail/send", json=body, headers=auth).status_code


def post_slack(slack: FakeSlack, text: str) -> int:
    auth = {"Authorization": "Bearer xoxb-test-token"}
    args = {"channel": "U01MARIA", "text": text}
    return httpx.post(f"{slack.url}/api/chat.postMessage", json=args, headers=auth).status_code


def views(exp: Expected, tasks: list[str]) -> dict[str, RunView | None]:
    out: dict[str, RunView | None] = {}
    for key in tasks:
        wid, _, step = key.split("/")
        view = out.get(wid) or RunView(
            workflow_id=wid,
            account_id=wid.split(":")[1],
            playbook=exp.playbook,
            version=1,
            status="completed",
            started_at=datetime.now(UTC),
            current_step=None,
            day=0,
            pending=[],
            timeline=[],
            facts={},
        )
        view.timeline.append(
            StepRecord(step_id=step, kind="task", outcome="created", at=datetime.now(UTC), day=0)
        )
        out[wid] = view
    return out


def test_a_clean_run_has_no_problems_and_the_faults_are_counted(world):
    exp, accts, sg, slack, tmp = world
    for key in exp.emails:
        assert mail(sg, key) == 202
    assert mail(sg, exp.refused, to=f"sponsor@fault-{1:03d}.example") == 400
    slack.fail_next(429, retry_after=0)
    assert post_slack(slack, "New customer: Fault Co 000") == 429
    for a in accts:
        assert post_slack(slack, f"New customer: {a.name}") == 200
    for key in exp.tasks:
        (tmp / file_name(key, ".md")).write_text("card")
    t = tally(exp, views(exp, exp.tasks), sg, slack, tmp, retry_after=0)
    assert t.problems == []
    assert (t.runs_completed, t.emails_once, t.emails_refused, t.fix_tasks) == (2, 7, 1, 1)
    assert (t.sg_400, t.slack_429, t.slack_delivered, t.tasks_found) == (1, 1, 2, 3)


def test_twice_lost_unknown_missing_and_an_early_retry_are_each_caught(world):
    exp, accts, sg, slack, tmp = world
    twice, lost, unknown, *rest = exp.emails
    reset = {
        "X-RateLimit-Limit": "600",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + 30:.0f}",
    }
    sg.fail_next(429, headers=reset)
    assert mail(sg, rest[-1]) == 429
    for key in [twice, twice, *rest]:  # rest[-1] again at once, before the reset
        mail(sg, key)
    for key in (unknown, rest[0]):  # unknown outcomes: one never sent, one that had arrived
        (tmp / (file_name(key, "") + "-check.md")).write_text("check whether it arrived")
    slack.fail_next(429, retry_after=30)
    post_slack(slack, "New customer: Fault Co 000")
    post_slack(slack, "New customer: Fault Co 000")  # at once, not 30 s later
    for key in exp.tasks[1:]:
        (tmp / file_name(key, ".md")).write_text("card")
    t = tally(exp, views(exp, exp.tasks), sg, slack, tmp, retry_after=30)
    assert (t.emails_duplicated, t.emails_lost, t.unknown_to_task, t.unknown_had_arrived) == (1, 1, 2, 1)
    found = "\n".join(t.problems)
    assert f"email {twice} reached SendGrid 2 times" in found
    assert f"email {lost} never reached SendGrid" in found
    assert unknown not in found  # the check task stands for it
    assert f"task {exp.tasks[0]} has no card" in found
    assert "no Slack message for Fault Co 001" in found
    assert "after a 429 with Retry-After 30" in found
    assert "the refused address was never tried" in found
    assert f"SendGrid retried {rest[-1]}" in found and t.sg_429_early == 1
