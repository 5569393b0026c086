"""The service's GET /metrics on the dev server: webhook outcomes by endpoint and status, updates
ingested, and the pending steps of running playbooks; request ids echoed."""

from __future__ import annotations

import uuid

import httpx
from e2e_helpers import DEAL_TOKEN, FEED_TOKEN, eventually
from prometheus_client.parser import text_string_to_metric_families

from activities.metrics import PENDING


async def values(http: httpx.AsyncClient) -> dict[tuple[str, tuple], float]:
    r = await http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def webhook(endpoint: str, status: int) -> tuple[str, tuple]:
    return ("csr_webhooks_total", (("endpoint", endpoint), ("status", str(status))))


async def test_metrics_count_webhooks_by_status_and_updates_ingested(stack):
    account_id = f"metrics-{uuid.uuid4().hex[:8]}"
    body = {
        "deal_id": f"D-{account_id}",
        "account": {
            "id": account_id,
            "name": "Metrics Inc",
            "timezone": "Europe/Madrid",
            "csm": "maria",
            "contacts": [{"name": "Mia", "email": f"mia@{account_id}.example", "role": "champion"}],
        },
    }
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        before = await values(http)
        r = await http.post("/webhooks/deal-closed", json=body, headers={"X-Request-Id": "req-42"})
        assert r.status_code == 401 and r.headers["x-request-id"] == "req-42"
        r = await http.post(
            "/webhooks/deal-closed", json=body, headers={"Authorization": f"Bearer {DEAL_TOKEN}"}
        )
        assert r.status_code == 200 and len(r.headers["x-request-id"]) == 32  # made when not given
        score = {"account_id": account_id, "score": 72}
        r = await http.post("/feeds/scores", json=score, headers={"Authorization": f"Bearer {FEED_TOKEN}"})
        assert r.status_code < 300, r.text
        after = await values(http)

        def delta(key) -> float:
            return after.get(key, 0) - before.get(key, 0)

        assert delta(webhook("/webhooks/deal-closed", 401)) == 1
        assert delta(webhook("/webhooks/deal-closed", 200)) == 1
        assert delta(webhook("/feeds/scores", r.status_code)) == 1
        assert delta(("csr_updates_ingested_total", (("kind", "score"),))) == 1

        async def kickoff_pending():
            PENDING.set(None)  # count again now rather than within 30 s
            return (await values(http)).get(("csr_pending_steps", (("kind", "task"),)), 0) >= 1

        await eventually(kickoff_pending)  # the onboarding's day-0 kickoff task waits for María
