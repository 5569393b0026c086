"""An email whose fate is unknown (its attempt is in the ledger, its outcome never was) is not
sent again by the run: the CSM gets "Check whether this email reached the customer" with the
message, and its Resend sends it once more under a new key, then the task is done."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fakes import FakeSendGrid
from support import act, settings_for, start, view
from temporalio.client import WorkflowUpdateFailedError

from activities.store import SqliteLedger
from worker import build_worker

pytestmark = pytest.mark.asyncio


async def test_unknown_outcome_becomes_a_check_task_and_resend_sends_once(env, tmp_path):
    wid = f"test-onboarding-{uuid.uuid4().hex[:8]}"
    key = f"{wid}/onboarding/day0-welcome"
    with FakeSendGrid() as sg:
        settings = settings_for(tmp_path, sg)
        crashed = SqliteLedger(settings.data_dir / "sent-ledger.sqlite3", "dead-worker")
        crashed.begin(key, "sendgrid", "to ana")  # sent to SendGrid, then no answer came back
        crashed.lost(key, "connection reset")
        crashed.close()
        async with build_worker(env.client, settings):
            handle = await start(env, settings, workflow_id=wid)
            await env.sleep(timedelta(minutes=30))
            v = await view(handle)
            (check,) = [p for p in v.pending if p.step_id == "day0-welcome-check"]
            assert sg.messages == []  # the run did not send it again
            assert check.kind == "task" and check.assignee == "maria"
            assert check.title == "Check whether this email reached the customer"
            assert check.preview["to"] == "ana@acme.example"
            assert check.preview["subject"] and check.preview["text"]
            other = next(p for p in v.pending if p.kind == "task" and p.resend is None)
            with pytest.raises(WorkflowUpdateFailedError) as refused:  # only a check task resends
                await act(handle, other.step_id, "resend")
            assert "'resend' is not allowed" in str(refused.value.cause)
            await act(handle, "day0-welcome-check", "resend")
            await env.sleep(timedelta(minutes=5))
            v = await view(handle)
    assert sg.custom_arg_values("idempotency_key") == {f"{key}#resend-1": 1}
    assert sg.messages[0]["subject"] == check.preview["subject"]
    assert "day0-welcome-check" not in [p.step_id for p in v.pending]
    rows = [(r.step_id, r.outcome, r.actor) for r in v.timeline if r.step_id.startswith("day0-welcome")]
    assert rows == [
        ("day0-welcome", "unknown", "playbook"),
        ("day0-welcome-check", "created", "playbook"),
        ("day0-welcome-check", "resent", "maria"),
        ("day0-welcome", "sent", "playbook"),
    ]
