"""Helpers shared by the end-to-end tests (imported by name: tests/e2e is on sys.path)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from temporalio.testing import WorkflowEnvironment

from csrunner.config.accounts import load_account, load_team
from csrunner.config.settings import REPO_ROOT, ServiceConfig, Settings, parse_tokens

try:
    from tests.fakes import FakeHubSpot, FakeSendGrid, FakeSlack
except ImportError:  # tests/ itself is on sys.path
    from fakes import FakeHubSpot, FakeSendGrid, FakeSlack

HS_SECRET, SLACK_SECRET, DEAL_TOKEN, FEED_TOKEN = (
    "hs-client-secret",
    "slack-signing-secret",
    "deal-token",
    "feed-token",
)
TOKENS = {"maria": "tok-maria", "tom": "tok-tom", "carlos": "tok-carlos", "olga": "tok-olga"}


def browser_skip_reason(chromium: str | None, environ: dict[str, str]) -> str | None:
    """Why the browser test cannot run here, or None. Without Debian's chromium on PATH it is
    skipped (README line 2 passes on a machine with Python alone), except in CI, where it must run."""
    if (chromium and Path(chromium).exists()) or environ.get("CI", "").lower() == "true":
        return None
    return "needs Debian's chromium: apt-get install chromium (CI=true makes this test run)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceThread:
    """The service app under uvicorn in a daemon thread with its own event loop."""

    def __init__(self, app):
        self.app, self.port = app, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="service")

    def __enter__(self):
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "service did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc):
        self._server.should_exit = True
        self._thread.join(timeout=10)


@dataclass
class Stack:
    env: WorkflowEnvironment
    settings: Settings
    config: ServiceConfig
    service: ServiceThread
    sendgrid: FakeSendGrid
    slack: FakeSlack
    hubspot: FakeHubSpot

    @property
    def client(self):
        return self.env.client

    @property
    def url(self) -> str:
        return self.service.url


def service_config(**overrides) -> ServiceConfig:
    """The service's side (the worker reads HubSpot: its Settings, conftest.py)."""
    return ServiceConfig(
        hubspot_access_token="hs-test-token",
        hubspot_client_secret=HS_SECRET,
        slack_signing_secret=SLACK_SECRET,
        deal_webhook_token=DEAL_TOKEN,
        feed_token=FEED_TOKEN,
        api_tokens=parse_tokens(",".join(f"{t}:{p}" for p, t in TOKENS.items())),
        **{"temporal_timeout": 10, **overrides},
    )


def account(account_id: str | None = None):
    """The sample account (CSM maria) under a fresh id, so tests never share runs."""
    acme = load_account(REPO_ROOT / "examples" / "acme.yaml", load_team(REPO_ROOT / "team.yaml"))
    return acme.model_copy(update={"id": account_id or f"acme-{uuid.uuid4().hex[:8]}"})


def bearer(person: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[person]}"}


async def eventually(check, timeout: float = 20.0, every: float = 0.1):
    """Poll until `check()` (sync or async) returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(every)
