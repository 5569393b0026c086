"""Approve with edits (seed 004's critical "URGENT" email, written by the CSM before it goes) and
expansion in the seed's order (week 1 identifies the opportunity; the discovery email waits for
the CSM to approve it with the opportunity written in)."""

from __future__ import annotations

import email
from datetime import timedelta
from email.message import Message

import pytest
from support import acme, act, advance_to, at_local, local_day_time, settings_for, start, view
from temporalio.client import WorkflowUpdateFailedError

from worker import build_worker

pytestmark = pytest.mark.asyncio

PLAN = (
    "Today (Tue 2 Dec): Call with Ana to review the bounce rate\n"
    "This Week (by Fri 5 Dec): Clean the contact list & re-sync <segments>\n"
    "Next Week (Wed 10 Dec): Review the results together"
)


def english_acme(**metrics):
    a = acme()
    contacts = [c.model_copy(update={"locale": "en"}) for c in a.contacts]
    return a.model_copy(update={"contacts": contacts, "metrics": metrics})


def parts(path) -> tuple[str, str, str]:
    msg = email.message_from_bytes(path.read_bytes())
    text, html = (
        p.get_payload(decode=True).decode()
        for p in msg.walk()
        if isinstance(p, Message) and p.get_content_maintype() == "text"
    )
    subject = str(email.header.make_header(email.header.decode_header(msg["Subject"])))
    return subject, text, html


async def test_critical_email_approved_with_an_edited_action_plan_is_sent_once_with_the_edit(env, tmp_path):
    settings = settings_for(tmp_path)
    async with build_worker(env.client, settings):
        handle = await start(env, settings, "retention-critical", account=english_acme(health_score=42))
        t0 = (await view(handle)).started_at
        await advance_to(env, t0 + timedelta(hours=1))
        v = await view(handle)
        (gate,) = [p for p in v.pending if p.step_id == "urgent-approval"]
        # the CSM sees the email as it would go and the parts they may write, with seed 004's defaults
        assert gate.preview["subject"] == "🚨 URGENT: Let's Save Your AI Email Success"
        assert gate.editable == {
            "subject": "🚨 URGENT: Let's Save Your AI Email Success",
            "issues": "campaign performance\nengagement\ndata quality",
            "action_plan": (
                "Today: An urgent call to review your account and agree on a recovery plan\n"
                "This Week: Daily check-ins while we fix the main issues together\n"
                "Next Week: Review the results together and update your success plan"
            ),
        }
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await act(handle, "urgent-approval", "approve", edits={"agenda": "x"})
        assert refused.value.cause.message == (
            "'agenda' is not an editable part of 'urgent-email' (editable: subject, issues, action_plan)"
        )
        await act(handle, "urgent-approval", "approve", edits={"action_plan": PLAN})
        await advance_to(env, at_local(t0, 1, "08:00"))
        v = await view(handle)
    (eml,) = (tmp_path / "outbox" / "email").glob("*urgent-email*")
    subject, text, html = parts(eml)
    assert subject == "🚨 URGENT: Let's Save Your AI Email Success"
    assert (
        "🎯 Immediate Actions:\n"
        "1. **Today (Tue 2 Dec)**: Call with Ana to review the bounce rate\n"
        "2. **This Week (by Fri 5 Dec)**: Clean the contact list & re-sync <segments>\n"
        "3. **Next Week (Wed 10 Dec)**: Review the results together\n\n"
    ) in text
    assert text.count("Call with Ana") == 1
    assert "• Main Issues: campaign performance, engagement, data quality" in text
    # plain text from the CSM: escaped in the HTML part
    assert (
        "<strong>This Week (by Fri 5 Dec)</strong>: Clean the contact list &amp; re-sync &lt;segments&gt;"
        in html
    )
    assert [
        (r.outcome, r.actor, r.detail.get("edited")) for r in v.timeline if r.step_id == "urgent-approval"
    ] == [
        ("requested", "playbook", None),
        ("approved", "maria", ["action_plan"]),
    ]
    (sent,) = [r for r in v.timeline if r.step_id == "urgent-email"]
    assert (sent.outcome, sent.detail["edited_by"], sent.detail["edited"]) == (
        "sent",
        "maria",
        ["action_plan"],
    )


async def test_reject_is_a_skip_that_must_say_why(env, tmp_path):
    settings = settings_for(tmp_path)
    async with build_worker(env.client, settings):
        handle = await start(env, settings, "retention-critical", account=english_acme())
        t0 = (await view(handle)).started_at
        await advance_to(env, t0 + timedelta(hours=1))
        with pytest.raises(ValueError, match="reject needs a reason"):
            await act(handle, "urgent-approval", "reject")
        await act(handle, "urgent-approval", "reject", reason="the champion left the company")
        await advance_to(env, at_local(t0, 1, "08:00"))
        v = await view(handle)
    assert [(r.outcome, r.actor, r.reason) for r in v.timeline if r.step_id == "urgent-approval"][-1] == (
        "skipped",
        "maria",
        "the champion left the company",
    )
    assert not list((tmp_path / "outbox" / "email").glob("*urgent-email*"))


async def test_expansion_email_waits_for_week_one_and_an_approval_with_the_opportunity(env, tmp_path):
    settings = settings_for(tmp_path)
    account = english_acme(expansion_signal="usage_growth", expansion_detail="seats used 95% (48 of 50)")
    async with build_worker(env.client, settings):
        handle = await start(env, settings, "expansion", account=account)
        t0 = (await view(handle)).started_at
        await advance_to(env, at_local(t0, 6, "18:00"))
        v = await view(handle)
        # week 1: the CSM identifies the opportunity from the signals that started the play
        (week1,) = [p for p in v.pending if p.step_id == "week1-identification"]
        assert week1.preview["title"] == (
            "Signals:\n- Expansion signal: usage_growth\n- Expansion detail: seats used 95% (48 of 50)"
            "\n- Health score: (not given)"
        )
        assert (
            "Signals:\n- Expansion signal: usage_growth"
            in next((tmp_path / "outbox" / "tasks").glob("*week1-identification*")).read_text()
        )
        assert not any(p.step_id == "discovery-approval" for p in v.pending)
        assert not list((tmp_path / "outbox" / "email").glob("*"))  # nothing to the customer in week 1
        await act(handle, "week1-identification", "complete")
        await advance_to(env, at_local(t0, 7, "10:00"))
        v = await view(handle)
        (gate,) = [p for p in v.pending if p.step_id == "discovery-approval"]
        assert gate.editable == {"subject": "🚀 Acme Retail - Ready for the Next Level?", "opportunity": ""}
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await act(handle, "discovery-approval", "approve")
        assert refused.value.cause.message == (
            "approving 'discovery-approval' needs 'opportunity' written: the email 'discovery-email' "
            "cannot go out without it (edit 'opportunity' and approve again)"
        )
        with pytest.raises(WorkflowUpdateFailedError):
            await act(handle, "discovery-approval", "approve", edits={"opportunity": "   "})
        assert not list((tmp_path / "outbox" / "email").glob("*"))
        await act(
            handle,
            "discovery-approval",
            "approve",
            edits={"opportunity": "roll your campaigns out to the 12 new stores opening in 2027"},
        )
        await advance_to(env, at_local(t0, 7, "10:30"))
        v = await view(handle)
    (eml,) = (tmp_path / "outbox" / "email").glob("*discovery-email*")
    subject, text, _ = parts(eml)
    assert subject == "🚀 Acme Retail - Ready for the Next Level?"
    assert (
        "Based on your success, I see an opportunity to roll your campaigns out to the 12 new stores "
        "opening in 2027 that could generate significant additional revenue."
    ) in text
    rows = [
        (r.step_id, r.outcome, *local_day_time(t0, r.at))
        for r in v.timeline
        if r.step_id.startswith("discovery")
    ]
    assert rows == [
        ("discovery-approval", "requested", 7, "09:00"),
        ("discovery-approval", "approved", 7, "10:00"),
        ("discovery-email", "sent", 7, "10:00"),
    ]
