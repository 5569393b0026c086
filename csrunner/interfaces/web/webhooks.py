"""Deal closed → the account's journey starts, once: HubSpot's signed event batches and a plain
JSON webhook for any other CRM. 2xx only after Temporal has the start; a duplicate is a 2xx
that changes nothing (the journey is keyed by account, the deal id makes it idempotent)."""

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
from csrunner.interfaces.web.hubspot import CRMError, HubSpotCRM, MappingError, account_for_deal, verify_v3
from csrunner.interfaces.web.models import DealClosedIn, DealStarted, HubSpotResult

router = APIRouter(tags=["webhooks"])
ERRORS = error_responses(400, 401, 413, 422, 502, 503)
HUBSPOT_CONCURRENCY = 8  # deals of one batch read and started at once


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


async def _one_deal(svc, crm: HubSpotCRM, deal_id: str) -> DealStarted:
    cfg, notes = svc.config, list[str]()
    account, closed_at = await account_for_deal(
        crm,
        deal_id,
        svc.team,
        role_property=cfg.hubspot_role_property,
        timezone_property=cfg.hubspot_timezone_property,
        locale_property=cfg.hubspot_locale_property,
        default_csm=cfg.default_csm,
        default_timezone=cfg.hubspot_default_timezone,
        notes=notes,
    )
    done = await start_journey(svc, account, deal_id, closed_at)
    return done.model_copy(update={"notes": notes})


@router.post(
    "/webhooks/hubspot",
    response_model=HubSpotResult,
    responses=ERRORS,
    summary="HubSpot webhook (v3 signature): a deal reaching closed-won starts the journey",
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
    deals = list(dict.fromkeys(str(e.objectId) for e in won))  # a batch may repeat an event
    result = HubSpotResult(received=len(events), ignored=len(events) - len(won))
    if not deals:
        return result
    if not cfg.hubspot_access_token:
        raise ServiceError(
            503,
            "HUBSPOT_ACCESS_TOKEN is not set on the service: closed deals cannot be read from HubSpot "
            "(nothing was started; HubSpot retries once it is set)",
            headers={"Retry-After": "60"},
        )
    crm = HubSpotCRM(cfg.hubspot_api_url, cfg.hubspot_access_token, timeout=cfg.hubspot_timeout)
    gate, problems = asyncio.Semaphore(HUBSPOT_CONCURRENCY), list[str]()
    failures: list[ServiceError] = []  # each deal on its own: one failing never cuts the others short

    async def one(deal_id: str) -> None:
        async with gate:
            try:
                done = await _one_deal(svc, crm, deal_id)
            except MappingError as e:
                problems.append(str(e))
                return
            except CRMError as e:  # HubSpot retries the batch; what started meanwhile is idempotent
                failures.append(ServiceError(502, str(e)))
                return
            except ServiceError as e:
                failures.append(e)
                return
        (result.started if done.started else result.duplicates).append(done)

    try:  # deals at once, within HubSpot's own wait: past it HubSpot retries, and starts are idempotent
        async with asyncio.timeout(cfg.hubspot_timeout):
            await asyncio.gather(*(one(d) for d in deals))
    except TimeoutError:
        raise ServiceError(
            503,
            f"not all {len(deals)} deals were read and started within {cfg.hubspot_timeout:g} s; the ones "
            "listed are recorded, HubSpot's retry starts the rest",
            detail=result.model_dump(mode="json"),
            headers={"Retry-After": "5"},
        ) from None
    finally:
        await crm.aclose()
    if failures:
        worst = max(failures, key=lambda f: f.status)  # 503 (retry) over 502 over a 4xx
        raise ServiceError(
            worst.status, worst.message, detail=result.model_dump(mode="json"), headers=worst.headers
        )
    if problems:  # HubSpot redelivers; fix the data (e.g. the owner in team.yaml) and it goes through
        raise ServiceError(422, "; ".join(sorted(problems)), detail=result.model_dump(mode="json"))
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
