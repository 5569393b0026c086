"""What the service tells operators: a request id on every request (X-Request-Id kept when sane,
else made; echoed in the answer and on every log line of the request), webhook outcomes counted
by endpoint and status, and GET /metrics for Prometheus (no auth: counts only, no ids; keep it off
the public internet like any metrics port)."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections import Counter
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from activities.metrics import PENDING, WEBHOOKS
from csrunner.domain.messages import Pending
from csrunner.interfaces.web.errors import ServiceError, temporal_call
from csrunner.services.journeys import search_attributes_supported
from csrunner.services.log_format import REQUEST_ID
from csrunner.services.runs import view

#: Paths whose outcomes are counted: what other systems send us.
WEBHOOK_PREFIXES = ("/webhooks/", "/feeds/", "/slack/")
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: Runs whose pending steps one count reads (a `view` query each), at most every PENDING.max_age s.
SCAN_LIMIT = 2000
log = logging.getLogger("csrunner.web")


class Observe:
    """Pure ASGI middleware, outermost: sees every answer, the body cap's 413 included."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        status = 500  # an exception that escapes every handler answers 500

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers") or [] if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            if scope.get("path", "").startswith(WEBHOOK_PREFIXES):
                endpoint = _endpoint(scope)
                WEBHOOKS.labels(endpoint, str(status)).inc()
                log.info("%s %s %s", scope.get("method"), endpoint, status)
            REQUEST_ID.reset(token)


def _endpoint(scope: Scope) -> str:
    """The route's path template, never the raw path (label values stay a fixed set); a request
    refused before routing (the body cap's 413) gets its path when it is a documented one."""
    route = scope.get("route")
    if route is not None:
        return route.path
    path, app = scope.get("path", ""), scope.get("app")
    return path if app is not None and path in app.openapi()["paths"] else "unmatched"


router = APIRouter()


def install(app) -> None:
    """After every other middleware (so outermost), with /metrics."""
    app.add_middleware(Observe)
    app.include_router(router)
    app.state.counting = asyncio.Lock()  # one count of pending steps at a time


@router.get(
    "/metrics",
    tags=["ops"],
    summary="Prometheus metrics: webhooks, updates ingested, approvals and tasks pending and overdue",
    description="Prometheus text format. No authentication: counts only, never an id or a name; "
    "let your Prometheus reach it, not the internet. Pending and overdue steps are counted at most "
    "every 30 s (a `view` query per running playbook with pending steps) and left out while "
    "Temporal does not answer.",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    if PENDING.stale():
        await count_pending(request.app.state.svc, request.app.state.counting)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


async def count_pending(svc, lock: asyncio.Lock) -> None:
    """Pending approvals and tasks of the running playbook runs, from their `view` queries (the
    inbox's source; visibility alone cannot tell an approval from a task nor say overdue). One
    count at a time; when Temporal does not answer in time the gauges are left out."""
    async with lock:
        if not PENDING.stale():
            return
        try:
            async with asyncio.timeout(svc.config.temporal_timeout):
                PENDING.set(await _counts(svc))
        except (ServiceError, TimeoutError):
            PENDING.set(None)


async def _counts(svc) -> dict[tuple[str, str], int]:
    client = await svc.client()
    query = "WorkflowType = 'PlaybookWorkflow' AND ExecutionStatus = 'Running'"
    if await search_attributes_supported(client, svc.settings):
        query += " AND PendingSteps IS NOT NULL"
    async with temporal_call(svc, "counting pending steps"):
        ids = [wf.id async for wf in client.list_workflows(query, limit=SCAN_LIMIT)]

    async def pending_of(wid: str) -> list[Pending]:
        async with svc.queries:
            try:
                async with temporal_call(svc, f"reading {wid}"):
                    return (await view(client, wid)).pending
            except ServiceError as e:
                if e.status == 503:
                    raise
                return []  # ended between the listing and the query

    now, counts = datetime.now(UTC), Counter[tuple[str, str]]()
    for pending in await asyncio.gather(*(pending_of(w) for w in ids)):
        for p in pending:
            counts[p.kind, "pending"] += 1
            # past its deadline: escalated at least once (its due time then moves up the ladder)
            counts[p.kind, "overdue"] += bool(p.rung or (p.due_at and p.due_at < now))
    return dict(counts)
