"""Temporal stopped → the service answers 503 (so the CRM retries); Temporal back on the same
port and database → the retry succeeds and what was accepted before the outage is still there."""

from __future__ import annotations

import httpx
from e2e_helpers import DEAL_TOKEN, free_port, service_config
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from csrunner.config.settings import REPO_ROOT, Settings
from csrunner.interfaces.web.app import create_app
from csrunner.services.journeys import journey_id
from csrunner.services.temporal import dev_server_path
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTE_KEYS


def deal(n: int) -> dict:
    return {
        "deal_id": f"outage-{n}",
        "account": {
            "id": f"outage-{n}",
            "name": f"Outage {n}",
            "csm": "maria",
            "contacts": [{"name": "Olive", "email": f"olive{n}@outage.example", "role": "champion"}],
        },
    }


async def test_temporal_down_is_503_and_the_retry_succeeds_after_restart(tmp_path):
    port, db = free_port(), tmp_path / "temporal.db"

    async def temporal() -> WorkflowEnvironment:
        return await WorkflowEnvironment.start_local(
            port=port,
            dev_server_database_filename=str(db),
            data_converter=pydantic_data_converter,
            search_attributes=SEARCH_ATTRIBUTE_KEYS,
            dev_server_existing_path=dev_server_path(),
            dev_server_log_level="error",
        )

    settings = Settings(
        temporal_address=f"127.0.0.1:{port}",
        data_dir=tmp_path,
        task_queue="outage",
        team_file=REPO_ROOT / "team.yaml",
    )
    app = create_app(settings, config=service_config(temporal_timeout=5))
    auth = {"Authorization": f"Bearer {DEAL_TOKEN}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc", timeout=60
    ) as http:
        env = await temporal()
        try:
            r = await http.post("/webhooks/deal-closed", json=deal(1), headers=auth)
            assert r.status_code == 200 and r.json()["started"], r.text
        finally:
            await env.shutdown()

        r = await http.post("/webhooks/deal-closed", json=deal(2), headers=auth)
        assert r.status_code == 503 and "Temporal is unreachable" in r.json()["error"], r.text
        assert r.headers.get("retry-after")
        assert (await http.get("/healthz")).status_code == 503

        env = await temporal()
        try:
            r = await http.post("/webhooks/deal-closed", json=deal(2), headers=auth)  # the sender's retry
            assert r.status_code == 200 and r.json()["started"] is True, r.text
            assert (await http.get("/healthz")).status_code == 200
            for n in (1, 2):  # the start accepted before the outage survived it
                desc = await env.client.get_workflow_handle(journey_id(f"outage-{n}")).describe()
                assert desc.id == journey_id(f"outage-{n}")
        finally:
            await env.shutdown()
