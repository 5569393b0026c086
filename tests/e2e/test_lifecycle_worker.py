"""SIGTERM to `csr worker` during a send lets that send finish (SendGrid gets it once) and the
run completes once a worker runs again; SIGTERM to `csr serve` answers the request in flight
and exits 0."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import threading
import time
import uuid

import httpx
from e2e_helpers import account, free_port
from lifecycle_helpers import Csr, SlowSendGrid

from csrunner.config.catalog import load_catalog
from csrunner.config.settings import REPO_ROOT
from csrunner.services.runs import start_run

ONE_MAIL = """
id: one-mail
name: One email (lifecycle test)
steps:
  - {id: hello, kind: email, to: champion, template: onboarding_welcome}
"""


async def test_sigterm_during_a_send_lets_it_finish_once(stack, tmp_path):
    playbooks = tmp_path / "playbooks"
    shutil.copytree(REPO_ROOT / "playbooks", playbooks)
    (playbooks / "one-mail.yaml").write_text(ONE_MAIL)
    settings = stack.settings.model_copy(
        update={"task_queue": f"lifecycle-{uuid.uuid4().hex[:8]}", "playbooks_dir": playbooks}
    )
    with SlowSendGrid(delay=2.0) as sg:
        env = {
            "TEMPORAL_ADDRESS": settings.temporal_address,
            "TASK_QUEUE": settings.task_queue,
            "DATA_DIR": str(tmp_path / "data"),
            "PLAYBOOKS_DIR": str(playbooks),
            "SENDGRID_API_KEY": "SG.test-key",
            "MAIL_FROM": "cs@example.com",
            "SENDGRID_API_HOST": sg.url,
        }
        first = Csr(tmp_path, env, "worker", name="worker-1")
        second = None
        try:
            await asyncio.to_thread(first.wait_for_output, "worker on task queue")
            catalog = load_catalog(playbooks, settings.templates_dir)
            wid, _ = await start_run(stack.client, settings, catalog, account(), "one-mail")
            while sg.sends() == 0:  # the send is in flight: SendGrid has it, has not answered
                await asyncio.sleep(0.05)
            status = await asyncio.to_thread(first.stop, signal.SIGTERM, False, 30)
            assert status == 0, first.stderr()
            assert len(sg.messages) == 1  # answered before the worker exited
            second = Csr(tmp_path, env, "worker", name="worker-2")
            await asyncio.wait_for(stack.client.get_workflow_handle(wid).result(), 60)
        finally:
            for proc in (first, second):
                if proc:
                    proc.kill()
    assert "Traceback" not in first.stderr()
    assert sg.sends() == 1
    assert sg.custom_arg_values("idempotency_key") == {f"{wid}/one-mail/hello": 1}


def test_serve_sigterm_answers_the_request_in_flight_and_exits_0(tmp_path):
    with socket.socket() as silent:  # a "Temporal" that accepts and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = free_port()
        env = {"TEMPORAL_ADDRESS": f"127.0.0.1:{silent.getsockname()[1]}", "TEMPORAL_TIMEOUT": "3"}
        serve = Csr(tmp_path, env, "serve", "--port", str(port), name="serve")
        try:
            serve.wait_for_output("service on")
            answers: list[httpx.Response] = []
            asking = threading.Thread(target=lambda: answers.append(_healthz(port)))
            asking.start()
            silent.settimeout(30)
            held, _ = silent.accept()  # the service calls Temporal: the request is in its handler
            status = serve.stop(signal.SIGTERM, timeout=30)
            asking.join(timeout=30)
            held.close()
        finally:
            serve.kill()
    assert status == 0, serve.stderr()
    assert [r.status_code for r in answers] == [503]  # answered (Temporal unreachable), not cut off
    assert "Traceback" not in serve.stderr()


def _healthz(port: int) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
        except httpx.ConnectError:  # not listening yet
            assert time.monotonic() < deadline
            time.sleep(0.05)
