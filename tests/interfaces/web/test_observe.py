"""Request ids, webhook counts and /metrics without a Temporal server (its address is a closed
port): what the service tells operators must work when Temporal does not answer."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_service_validation import AUTH, CONFIG, _closed_port

from activities.metrics import PENDING
from csrunner.config.settings import REPO_ROOT, Settings
from csrunner.interfaces.web.app import create_app
from csrunner.services.log_format import JsonFormatter


@pytest.fixture
async def http(tmp_path):
    settings = Settings(
        temporal_address=f"127.0.0.1:{_closed_port()}", data_dir=tmp_path, team_file=REPO_ROOT / "team.yaml"
    )
    transport = httpx.ASGITransport(app=create_app(settings, config=CONFIG))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client


async def scrape(http) -> dict[tuple[str, tuple], float]:
    r = await http.get("/metrics")
    assert r.status_code == 200, r.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(r.text)
        for s in f.samples
    }


def webhooks(endpoint: str, status: int) -> tuple[str, tuple]:
    return ("csr_webhooks_total", (("endpoint", endpoint), ("status", str(status))))


async def test_request_id_is_kept_when_sane_and_made_otherwise(http):
    r = await http.get("/openapi.json", headers={"X-Request-Id": "lb-7f3a:01"})
    assert r.headers["x-request-id"] == "lb-7f3a:01"
    for bad in ("two words", "x" * 129, "<script>"):
        r = await http.get("/nowhere", headers={"X-Request-Id": bad})
        assert (
            r.status_code == 404 and len(r.headers["x-request-id"]) == 32 and r.headers["x-request-id"] != bad
        )


async def test_webhook_outcomes_by_route_and_status_even_before_routing(http):
    before = await scrape(http)
    assert (await http.post("/webhooks/deal-closed", json={})).status_code == 401
    big = {**AUTH, "Content-Length": str(CONFIG.max_batch_body_bytes + 1)}
    assert (await http.post("/feeds/scores/batch", content=b"[]", headers=big)).status_code == 413
    assert (await http.post("/webhooks/nope", json={})).status_code == 404
    after = await scrape(http)
    for key in (
        webhooks("/webhooks/deal-closed", 401),
        webhooks("/feeds/scores/batch", 413),  # the body cap answers before any route is chosen
        webhooks("unmatched", 404),  # never the raw path: labels stay a fixed set
    ):
        assert after.get(key, 0) - before.get(key, 0) == 1, key
    assert not any(name == "csr_webhooks_total" and "/webhooks/nope" in str(labels) for name, labels in after)


async def test_metrics_answer_without_temporal_leaving_the_pending_gauges_out(http):
    PENDING.set(None)
    r = await http.get("/metrics")
    assert r.status_code == 200 and "# TYPE csr_updates_ingested_total counter" in r.text
    assert "csr_pending_steps" not in r.text and "csr_overdue_steps" not in r.text


async def test_a_webhook_log_line_carries_its_request_id(http):
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonFormatter().format(record))

    logger = logging.getLogger("csrunner.web")
    handler, level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        await http.post("/webhooks/deal-closed", json={}, headers={"X-Request-Id": "req-9"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    line = json.loads(lines[-1])
    assert line["message"] == "POST /webhooks/deal-closed 401" and line["request_id"] == "req-9"
