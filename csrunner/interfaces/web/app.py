"""The HTTP service: `create_app(settings, client=None)`.

With no client it connects to Temporal lazily (and again after an outage); while Temporal is
unreachable every endpoint that must record something answers 503 so the sender retries.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from csrunner.config.settings import ServiceConfig, Settings
from csrunner.interfaces.web import (
    api,
    dashboard,
    docs,
    errors,
    feeds,
    inbox,
    observe,
    slack_buttons,
    webhooks,
)
from csrunner.interfaces.web.errors import ServiceError
from csrunner.interfaces.web.guard import Guard
from csrunner.interfaces.web.models import Health
from csrunner.interfaces.web.state import Service

DESCRIPTION = """Durable customer-success playbooks on Temporal.

* **Webhooks**: HubSpot (v3 signature) and any CRM (`DEAL_WEBHOOK_TOKEN`) start a customer's
  journey when a deal closes, exactly once per deal. A HubSpot deal's 2xx means its intake workflow
  is recorded: the worker reads the deal from HubSpot (retrying while HubSpot is down), then starts
  the journey.
* **Feeds**: health scores, raw metrics, NPS answers and expansion signals (`FEED_TOKEN` or an
  ops API token); batches answer per item.
* **Slack**: Approve / Skip / Snooze buttons (`SLACK_SIGNING_SECRET`).
* **Actions**: the CSM/ops API with bearer tokens (`API_TOKENS="token:person_id,..."`); the web
  inbox at `/inbox`.

A 2xx means Temporal has durably recorded the start, signal or update. 503 means Temporal did not
answer: the body says whether nothing was recorded or it may have been; retrying is safe.
Every 4xx and 5xx body is `{"error": "what is wrong"}`. Tokens are checked before a body is read;
bodies are capped (413: 256 KiB, feed batches 8 MiB)."""


def create_app(
    settings: Settings | None = None, client: Client | None = None, config: ServiceConfig | None = None
) -> FastAPI:
    app = FastAPI(
        title="CS playbook runner", version="1.0", description=DESCRIPTION, docs_url=None, redoc_url=None
    )
    svc = app.state.svc = Service(settings or Settings(), config or ServiceConfig(), client)
    app.add_middleware(Guard, limit_for=svc.config.body_limit)
    observe.install(app)  # request ids, webhook counts, /metrics
    errors.install(app)
    for router in (webhooks.router, webhooks.deal_router, feeds.router, slack_buttons.router, api.router):
        app.include_router(router)
    app.include_router(inbox.router)
    app.include_router(dashboard.router)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    docs.install(app)

    @app.get("/", include_in_schema=False)
    async def root():
        return RedirectResponse("/inbox", status_code=303)

    @app.get(
        "/healthz",
        response_model=Health,
        tags=["ops"],
        summary="Liveness, and whether Temporal answers",
        responses={503: {"model": Health}},
    )
    async def healthz(request: Request):
        svc = request.app.state.svc
        try:
            c = await svc.client()
            async with errors.temporal_call(svc, "checking health"):
                await c.workflow_service.get_system_info(GetSystemInfoRequest())
        except ServiceError as e:
            return JSONResponse(Health(ok=False, temporal=e.message).model_dump(), status_code=503)
        return Health(ok=True, temporal="reachable")

    return app
