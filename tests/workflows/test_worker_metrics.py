"""A worker's one Prometheus endpoint (METRICS_PORT) serves the SDK's metrics and the product's:
a short playbook run to completion on the time-skipping server, then /metrics read as Prometheus
reads it."""

from __future__ import annotations

import socket
import urllib.request
from datetime import timedelta

import pytest
import pytest_asyncio
from fakes import FakeSendGrid, FakeSlack
from prometheus_client.parser import text_string_to_metric_families
from support import acme, settings_for, start
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from csrunner.config.catalog import load_catalog
from csrunner.config.settings import REPO_ROOT, Settings
from csrunner.services.telemetry import temporal_runtime
from csrunner.services.temporal import test_server_path as server_path
from worker import build_worker

SHORT = """
id: short
name: One email and one Slack message (test)
steps:
  - {id: hello, kind: email, to: champion, template: onboarding_welcome}
  - {id: ping, kind: slack, to: csm, template: new_customer}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest_asyncio.fixture(scope="module")
async def metered():
    """A time-skipping server whose client (and so its workers) runs on a runtime serving
    /metrics on a free port, as `csr worker` does on METRICS_PORT."""
    port = free_port()
    runtime = temporal_runtime(Settings(metrics_host="127.0.0.1"), port)
    async with await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=server_path(), runtime=runtime
    ) as env:
        yield env, f"http://127.0.0.1:{port}/metrics"


def scrape(url: str, name: str, task_queue: str, **labels: str) -> float:
    """The sum of `name`'s samples of one task queue with these labels (others ignored)."""
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
        and s.labels.get("task_queue") == task_queue
        and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def _run(env, tmp_path, sg, slack, completes: bool = True) -> str:
    d = tmp_path / "playbooks"
    d.mkdir()
    (d / "short.yaml").write_text(SHORT)
    definitions = load_catalog(d, REPO_ROOT / "email_templates").bundle("short")
    settings = settings_for(tmp_path, sg, slack)
    async with build_worker(env.client, settings):
        handle = await start(env, settings, "short", acme(), definitions)
        await env.sleep(timedelta(minutes=5))
        if completes:  # a failed send leaves a task for the CSM: that run stays open
            await handle.result()
    return settings.task_queue


async def test_sdk_and_product_metrics_on_one_endpoint(metered, tmp_path):
    env, url = metered
    with FakeSendGrid() as sg, FakeSlack() as slack:
        tq = await _run(env, tmp_path, sg, slack)
    assert len(sg.messages) == 1
    assert scrape(url, "temporal_workflow_completed_total", tq, workflow_type="PlaybookWorkflow") == 1
    assert scrape(url, "csr_messages_total", tq, channel="email", outcome="sent") == 1
    assert scrape(url, "csr_messages_total", tq, channel="slack", outcome="sent") == 1
    assert scrape(url, "csr_messages_total", tq, outcome="failed") == 0


async def test_a_permanent_failure_counts_as_failed_once(metered, tmp_path):
    env, url = metered
    with FakeSendGrid() as sg, FakeSlack() as slack:
        sg.reject_address(acme().contact("champion").email)
        tq = await _run(env, tmp_path, sg, slack, completes=False)
    assert scrape(url, "csr_messages_total", tq, channel="email", outcome="failed") == 1
    assert scrape(url, "csr_messages_total", tq, channel="email", outcome="sent") == 0
    assert scrape(url, "csr_messages_total", tq, channel="task", outcome="sent") == 1  # the CSM's fix task
    assert scrape(url, "temporal_activity_execution_failed_total", tq, activity_type="send_email") == 1


def test_a_busy_metrics_port_is_one_clear_error():
    port = free_port()
    first = temporal_runtime(Settings(metrics_host="127.0.0.1"), port)
    with pytest.raises(ValueError, match=f"METRICS_PORT={port}: cannot serve metrics on 127.0.0.1:{port}"):
        temporal_runtime(Settings(metrics_host="127.0.0.1"), port)
    del first
