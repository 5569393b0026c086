"""Deal closed → the account's journey starts, once: HubSpot's signed event batches and a plain
JSON webhook for any other CRM. 2xx only after Temporal has the start; a duplicate is a 2xx
that changes nothing. A HubSpot deal is not read here: its intake workflow reads it from the CRM
(for days if HubSpot is down) and starts the journey, so the answer only waits on Temporal."""

from __future__ import annotations

import asyncio
from typing import Annotated, Optional

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from csrunner.config.accounts import resolve_people, unknown_people
from csrunner.domain.messages import Account
from csrunner.interfaces.web.auth import bearer_token, check_token
from csrunner.interfaces.web.errors import ServiceError, describe_validation, error_responses, temporal_call
from csrunner.interfaces.web.guard import auth_first
from csrunner.interfaces.web.hubspot import verify_v3
from csrunner.interfaces.web.models import DealAccepted, DealClosedIn, DealStarted, HubSpotResult

router = APIRouter(tags=["webhooks"])
ERRORS = error_responses(400, 401, 413, 422, 502, 503)


class HubSpotEvent(BaseModel):
    """One event of HubSpot's webhook batch (only the fields we read are required)."""

    model_config = ConfigDict(extra="allow")
    objectId: int | Annotated[str, Field(max_length=100)]
    subscriptionType: str = Field(max_length=200)
    eventId: Optional[int | str] = None
    propertyName: Optional[str] = Field(None, max_length=200)
    propertyValue: Optional[str] = Field(None, max_length=1000)
    occurredAt: Optional[int] = None
    attemptNumber: Optional[int] = None
    portalId: Optional[int] = None


_EVENTS = TypeAdapter(list[HubSpotEvent])  # the body is capped, so the list is too
_HUBSPOT_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"type": "array", "items": HubSpotEvent.model_json_schema()}}},
}
_HUBSPOT_HEADERS = [
    {"name": n, "in": "header", "required": True, "schema": {"type": "string"}, "description": d}
    for n, d in (
        ("X-HubSpot-Signature-v3", "base64 HMAC-SHA256 with the app's client secret"),
        ("X-HubSpot-Request-Timestamp", "milliseconds since the epoch"),
    )
]


def journeys():
    try:
        from csrunner.services import journeys as module
    except ImportError:  # pragma: no cover - only while the lifecycle part is not installed
        raise ServiceError(503, "account journeys are not available in this build") from None
    return module


async def start_journey(svc, account: Account, deal_id: str, closed_at=None) -> DealStarted:
    client = await svc.client()
    try:
        async with temporal_call(svc, f"starting the journey of {account.id}"):
            wid, started = await journeys().deal_closed(client, svc.settings, account, deal_id, closed_at)
    except ValueError as e:
        raise ServiceError(422, f"deal {deal_id}: {e}") from None
    return DealStarted(deal_id=deal_id, account_id=account.id, workflow_id=wid, started=started)


def deal_intakes():
    from csrunner.services import deal_intake

    return deal_intake


@router.post(
    "/webhooks/hubspot",
    response_model=HubSpotResult,
    responses=ERRORS,
    summary="HubSpot webhook (v3 signature): a deal reaching closed-won is taken in for its journey",
    description=(
        "2xx means Temporal has durably recorded one intake per closed-won deal (workflow "
        "`hubspot-deal:{portalId}:{dealId}`); the intake reads the deal from HubSpot, retrying while "
        "HubSpot is down, then starts the account's journey. A redelivered deal is a 2xx listed under "
        "`duplicates`. 503 when Temporal cannot be reached: HubSpot retries."
    ),
    openapi_extra={"requestBody": _HUBSPOT_BODY, "parameters": _HUBSPOT_HEADERS},
)
async def hubspot_webhook(request: Request) -> HubSpotResult:
    svc, cfg = request.app.state.svc, request.app.state.svc.config
    raw = await request.body()  # capped by the guard; the signature covers the bytes
    why = verify_v3(
        cfg.hubspot_client_secret,
        request.method,
        cfg.hubspot_webhook_url or str(request.url),
        raw,
        request.headers.get("x-hubspot-signature-v3"),
        request.headers.get("x-hubspot-request-timestamp"),
    )
    if why:
        raise ServiceError(401, why)
    try:
        events = _EVENTS.validate_json(raw)
    except ValidationError as e:
        status, message = describe_validation(e.errors(include_url=False, include_input=False))
        raise ServiceError(status, f"not a HubSpot event batch: {message}") from None
    won = [
        e
        for e in events
        if e.subscriptionType == "deal.propertyChange"
        and e.propertyName == "dealstage"
        and e.propertyValue in cfg.hubspot_closed_won_stages
    ]
    # a batch may repeat an event; a deal is one per portal
    deals = list(dict.fromkeys((e.portalId, str(e.objectId)) for e in won))
    result = HubSpotResult(received=len(events), ignored=len(events) - len(won))
    if not deals:
        return result
    if not cfg.hubspot_access_token:
        raise ServiceError(
            503,
            "HUBSPOT_ACCESS_TOKEN is not set on the service: closed deals cannot be read from HubSpot "
            "(nothing was taken in; HubSpot retries once it is set)",
            headers={"Retry-After": "60"},
        )
    client = await svc.client()
    intakes = deal_intakes()

    async def one(portal_id: int | None, deal_id: str) -> None:
        async with temporal_call(svc, f"taking in HubSpot deal {deal_id}"):
            wid, started = await intakes.start_deal_intake(client, svc.settings, portal_id, deal_id)
        (result.started if started else result.duplicates).append(
            DealAccepted(deal_id=deal_id, portal_id=portal_id, workflow_id=wid, started=started)
        )

    try:  # deals at once, within HubSpot's own wait: past it HubSpot retries, and starts are idempotent
        async with asyncio.timeout(cfg.hubspot_timeout):
            outcomes = await asyncio.gather(*(one(*d) for d in deals), return_exceptions=True)
    except TimeoutError:
        raise ServiceError(
            503,
            f"not all {len(deals)} deals were taken in within {cfg.hubspot_timeout:g} s; the ones listed "
            "are recorded, HubSpot's retry takes in the rest",
            detail=result.model_dump(mode="json"),
            headers={"Retry-After": "5"},
        ) from None
    crashed = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, ServiceError)]
    if crashed:
        raise crashed[0]
    failures = [o for o in outcomes if isinstance(o, ServiceError)]
    if failures:  # each deal on its own: what was taken in stays, HubSpot's retry is a no-op for it
        worst = max(failures, key=lambda f: f.status)
        raise ServiceError(
            worst.status, worst.message, detail=result.model_dump(mode="json"), headers=worst.headers
        )
    return result


async def check_deal_sender(request: Request) -> None:
    """Before the body: the CRM's DEAL_WEBHOOK_TOKEN."""
    expected = request.app.state.svc.config.deal_webhook_token
    check_token(bearer_token(request), expected, "the deal-closed webhook")


deal_bearer = HTTPBearer(auto_error=False, description="DEAL_WEBHOOK_TOKEN")
deal_router = APIRouter(tags=["webhooks"], route_class=auth_first(check_deal_sender))


@deal_router.post(
    "/webhooks/deal-closed",
    response_model=DealStarted,
    responses=ERRORS,
    summary="Any CRM: a closed deal (plain JSON, bearer DEAL_WEBHOOK_TOKEN) starts the journey",
    dependencies=[Depends(deal_bearer)],  # documents the scheme; the token is checked before the body
)
async def deal_closed(body: DealClosedIn, request: Request) -> DealStarted:
    """People are named by id from the team file; an unknown id is a 422 naming it."""
    svc = request.app.state.svc
    data = body.account.model_dump(exclude_none=True)
    people = unknown_people(data, svc.team)
    if people:
        raise ServiceError(422, "; ".join(f"field 'account.{role}': {why}" for role, why in people))
    try:
        account = Account.model_validate({**resolve_people(data, svc.team), "deal_id": body.deal_id})
    except ValidationError as e:
        raise ServiceError(
            422, describe_validation(e.errors(include_url=False, include_input=False))[1]
        ) from None
    if body.facts is not None:
        try:
            facts = journeys().check_facts(svc.settings, body.facts)
        except ValueError as e:  # "facts.<name>: what is wrong"
            name, _, problem = str(e).partition(": ")
            raise ServiceError(422, f"field '{name}': {problem}") from None
        account = account.model_copy(update={"facts": facts})
    return await start_journey(svc, account, body.deal_id, body.closed_at)
