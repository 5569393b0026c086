"""`csr up` stops cleanly: on a Ctrl-C to its whole process group (as a terminal sends it) or to
`csr` alone, with a backlog of onboardings and sends in flight, it stops the HTTP service, the
worker and Temporal, exits 0 without a traceback and leaves no Temporal process; a busy port is
refused with one line before anything starts."""

from __future__ import annotations

import asyncio
import signal
import socket

import pytest
from e2e_helpers import account, free_port
from lifecycle_helpers import Csr, SlowSendGrid, processes_mentioning
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from csrunner.config.catalog import load_catalog
from csrunner.config.settings import REPO_ROOT, Settings
from csrunner.services.runs import start_run

BACKLOG = 30


async def start_onboardings(address: str, n: int) -> None:
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    settings = Settings(temporal_address=address, team_file=REPO_ROOT / "team.yaml")
    catalog = load_catalog(settings.playbooks_dir, settings.templates_dir)
    await asyncio.gather(*(start_run(client, settings, catalog, account(), "onboarding") for _ in range(n)))


@pytest.mark.parametrize("group", [True, False], ids=["sigint-to-group", "sigint-to-csr"])
def test_up_stops_within_seconds_under_load(tmp_path, group):
    data = tmp_path / "data"
    port, ui_port, http_port = free_port(), free_port(), free_port()
    with SlowSendGrid(delay=2.0) as sg:
        env = {"SENDGRID_API_KEY": "SG.test-key", "SENDGRID_API_HOST": sg.url, "MAIL_FROM": "cs@example.com"}
        up = Csr(tmp_path, env, "up", "--data-dir", str(data), "--port", str(port), "--ui-port",
                 str(ui_port), "--http-port", str(http_port))  # fmt: skip
        try:
            up.wait_for_output("Try:")
            asyncio.run(start_onboardings(f"127.0.0.1:{port}", BACKLOG))
            while sg.sends() == 0:  # the worker is busy: sends in flight, more queued
                assert up.proc.poll() is None, up.stderr()
            status = up.stop(signal.SIGINT, group=group)
        finally:
            up.kill()
        leftovers = processes_mentioning(str(data))
    assert status == 0, up.stderr()
    assert "Traceback" not in up.stderr() and "Fatal Python error" not in up.stderr()
    assert leftovers == []  # the dev server (its own session) was stopped too


def test_up_refuses_a_busy_port_before_starting_anything(tmp_path):
    data = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        up = Csr(tmp_path, {}, "up", "--data-dir", str(data), "--port", str(busy), "--ui-port",
                 str(free_port()), "--http-port", str(free_port()))  # fmt: skip
        status = up.proc.wait(timeout=60)
    assert status == 1
    assert up.stderr() == (
        f"error: port {busy} is already in use (is another csr up running? stop it or pass --port)\n"
    )
    assert not data.exists()  # nothing started, nothing written
