"""Deal closed → the account's journey starts, once: HubSpot's signed event batches and a plain
JSON webhook for any other CRM. 2xx only after Temporal has the start; a duplicate is a 2xx
that changes nothing (the journey is keyed by account, the deal id makes it idempotent)."""

from __future__ import annotations

from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from csrunner.config.accounts import resolve_people
from csrunner.domain.messages import Account
from csrunner.interfaces.web.auth import check_token
from csrunner.interfaces.web.errors import ErrorBody, ServiceError, describe_validation, temporal_call
from csrunner.interfaces.web.hubspot import CRMError, HubSpotCRM, MappingError, account_for_deal, verify_v3
from csrunner.interfaces.web.models import DealClosedIn, DealStarted, HubSpotResult

router = APIRouter(tags=["webhooks"])
ERRORS = {s: {"model": ErrorBody} for s in (400, 401, 422, 502, 503)}


class HubSpotEvent(BaseModel):
    """One event of HubSpot's webhook batch (only the fields we read are required)."""

    model_config = ConfigDict(extra="allow")
    objectId: int | str
    subscriptionType: str
    eventId: Optional[int | str] = None
    propertyName: Optional[str] = None
    propertyValue: Optional[str] = None
    occurredAt: Optional[int] = None
    attemptNumber: Optional[int] = None
    portalId: Optional[int] = None


_EVENTS = TypeAdapter(list[HubSpotEvent])
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


@router.post(
    "/webhooks/hubspot",
    response_model=HubSpotResult,
    responses=ERRORS,
    summary="HubSpot webhook (v3 signature): a deal reaching closed-won starts the journey",
    openapi_extra={"requestBody": _HUBSPOT_BODY, "parameters": _HUBSPOT_HEADERS},
)
async def hubspot_webhook(request: Request) -> HubSpotResult:
    svc, cfg = request.app.state.svc, request.app.state.svc.config
    raw = await request.body()
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
    crm = HubSpotCRM(cfg.hubspot_api_url, cfg.hubspot_access_token)
    problems = []
    try:
        for deal_id in deals:
            try:
                account, closed_at = await account_for_deal(
                    crm,
                    deal_id,
                    svc.team,
                    role_property=cfg.hubspot_role_property,
                    timezone_property=cfg.hubspot_timezone_property,
                    locale_property=cfg.hubspot_locale_property,
                    default_csm=cfg.default_csm,
                )
            except MappingError as e:
                problems.append(str(e))
                continue
            except CRMError as e:  # HubSpot retries the batch; deals started so far are idempotent
                raise ServiceError(502, str(e), detail=result.model_dump(mode="json")) from None
            done = await start_journey(svc, account, deal_id, closed_at)
            (result.started if done.started else result.duplicates).append(done)
    finally:
        await crm.aclose()
    if problems:  # HubSpot redelivers; fix the data (e.g. the owner in team.yaml) and it goes through
        raise ServiceError(422, "; ".join(problems), detail=result.model_dump(mode="json"))
    return result


deal_bearer = HTTPBearer(auto_error=False, description="DEAL_WEBHOOK_TOKEN")


@router.post(
    "/webhooks/deal-closed",
    response_model=DealStarted,
    responses=ERRORS,
    summary="Any CRM: a closed deal (plain JSON, bearer DEAL_WEBHOOK_TOKEN) starts the journey",
)
async def deal_closed(
    body: DealClosedIn, request: Request, creds: HTTPAuthorizationCredentials | None = Depends(deal_bearer)
) -> DealStarted:
    svc = request.app.state.svc
    check_token(
        creds.credentials if creds else None, svc.config.deal_webhook_token, "the deal-closed webhook"
    )
    data = resolve_people(body.account.model_dump(exclude_none=True), svc.team)
    for role in ("csm", "manager", "executive"):
        if isinstance(data.get(role), str):
            raise ServiceError(
                422, f"field 'account.{role}': unknown person id {data[role]!r} (not in the team file)"
            )
    try:
        ZoneInfo(body.account.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ServiceError(
            422, f"field 'account.timezone': unknown time zone {body.account.timezone!r}"
        ) from None
    try:
        account = Account.model_validate({**data, "deal_id": body.deal_id})
    except ValidationError as e:
        raise ServiceError(
            422, describe_validation(e.errors(include_url=False, include_input=False))[1]
        ) from None
    return await start_journey(svc, account, body.deal_id, body.closed_at)
