"""The health-score feed and the survey tool: scores, raw metrics, NPS answers and expansion
signals, one account at a time or in batches that answer per item (accepted or the error)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError

from csrunner.interfaces.web.auth import check_feed_sender, check_feed_token
from csrunner.interfaces.web.errors import ServiceError, describe_validation, error_responses, temporal_call
from csrunner.interfaces.web.guard import auth_first
from csrunner.interfaces.web.models import Accepted, BatchResult, ItemResult, NpsIn, ScoreIn, SignalIn
from csrunner.interfaces.web.webhooks import journeys

router = APIRouter(prefix="/feeds", tags=["feeds"], route_class=auth_first(check_feed_sender))
ERRORS = error_responses(400, 401, 404, 413, 422, 503)
MAX_BATCH = 1000
feed_bearer = HTTPBearer(auto_error=False, description="FEED_TOKEN, or an ops person's API token")


async def feed_auth(
    request: Request, creds: HTTPAuthorizationCredentials | None = Depends(feed_bearer)
) -> None:
    check_feed_token(request.app.state.svc, creds.credentials if creds else "")


async def _push(svc, account_id: str, what: str, call: Callable[[Any], Awaitable[str]]) -> Accepted:
    client = await svc.client()
    try:
        async with temporal_call(svc, f"recording the {what} of {account_id}"):
            wid = await call(client)
    except ValueError as e:  # journeys name the field that is wrong
        raise ServiceError(422, str(e)) from None
    except LookupError as e:
        raise ServiceError(404, f"unknown account {account_id!r}: {e}") from None
    return Accepted(account_id=account_id, workflow_id=wid)


def _utc(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _score(svc, s: ScoreIn):
    try:  # a bad value is a 422 naming the field even when Temporal is down
        journeys().score_update(svc.settings, score=s.score, metrics=s.metrics, facts=s.facts, at=_utc(s.at))
    except ValueError as e:
        raise ServiceError(422, str(e)) from None
    return _push(
        svc,
        s.account_id,
        "score",
        lambda c: journeys().push_score(
            c,
            svc.settings,
            s.account_id,
            score=s.score,
            metrics=s.metrics,
            facts=s.facts,
            at=_utc(s.at),
            source=s.source,
        ),
    )


def _nps(svc, n: NpsIn):
    return _push(
        svc,
        n.account_id,
        "NPS answer",
        lambda c: journeys().push_nps(c, svc.settings, n.account_id, n.score, n.comment, _utc(n.at)),
    )


def _signal(svc, s: SignalIn):
    return _push(
        svc,
        s.account_id,
        "expansion signal",
        lambda c: journeys().push_expansion_signal(c, svc.settings, s.account_id, s.signal, s.detail),
    )


async def _batch(svc, items: list[Any], model: type[BaseModel], one) -> BatchResult:
    """Each item on its own: a bad item never hides the good ones. If Temporal is unreachable
    the answer is 503 (with what was accepted) so the sender retries."""
    if len(items) > MAX_BATCH:
        raise ServiceError(413, f"a batch holds at most {MAX_BATCH} items (got {len(items)})")
    gate = asyncio.Semaphore(32)

    async def run(i: int, raw: Any) -> ItemResult:
        account = raw.get("account_id") if isinstance(raw, dict) else None
        account = account if isinstance(account, str) else None
        try:
            item = model.model_validate(raw)
            async with gate:
                done = await one(svc, item)
            return ItemResult(
                index=i, account_id=done.account_id, status="accepted", workflow_id=done.workflow_id
            )
        except ValidationError as e:
            error = describe_validation(e.errors(include_url=False, include_input=False))[1]
        except ServiceError as e:
            if e.status == 503:
                return ItemResult(
                    index=i, account_id=account, status="error", error="unavailable: " + e.message
                )
            error = e.message
        return ItemResult(index=i, account_id=account, status="error", error=error)

    return _result(list(await asyncio.gather(*(run(i, raw) for i, raw in enumerate(items)))))


def _result(results: list[ItemResult]) -> BatchResult:
    out = BatchResult(
        accepted=sum(r.status == "accepted" for r in results),
        errors=sum(r.status == "error" for r in results),
        results=results,
    )
    if any(r.error and r.error.startswith("unavailable: ") for r in results):
        raise ServiceError(
            503,
            "Temporal is unreachable: some items were not recorded; resend them",
            detail=out.model_dump(mode="json"),
            headers={"Retry-After": "5"},
        )
    return out


async def _score_batch(svc, items: list[Any]) -> BatchResult:
    """Like `_batch`, but each account's valid items go to its journey as one signal."""
    if len(items) > MAX_BATCH:
        raise ServiceError(413, f"a batch holds at most {MAX_BATCH} items (got {len(items)})")
    results: dict[int, ItemResult] = {}
    groups: dict[str, list[tuple[int, Any]]] = {}
    for i, raw in enumerate(items):
        account = raw.get("account_id") if isinstance(raw, dict) else None
        try:
            s = ScoreIn.model_validate(raw)
            update = journeys().score_update(
                svc.settings, score=s.score, metrics=s.metrics, facts=s.facts, at=_utc(s.at), source=s.source
            )
            groups.setdefault(s.account_id, []).append((i, update))
            continue
        except ValidationError as e:
            error = describe_validation([dict(x) for x in e.errors(include_url=False, include_input=False)])[
                1
            ]
        except ValueError as e:
            error = str(e)
        results[i] = ItemResult(
            index=i, account_id=account if isinstance(account, str) else None, status="error", error=error
        )
    gate, batch = asyncio.Semaphore(32), uuid.uuid4().hex

    async def send(acc: str, group: list[tuple[int, Any]]) -> None:
        try:
            client = await svc.client()
            async with gate, temporal_call(svc, f"recording the scores of {acc}"):
                wid = await journeys().send_batch(client, svc.settings, acc, [u for _, u in group], batch)
            done = dict(status="accepted", workflow_id=wid)
        except ServiceError as e:
            done = dict(status="error", error=("unavailable: " if e.status == 503 else "") + e.message)
        results.update({i: ItemResult(index=i, account_id=acc, **done) for i, _ in group})

    await asyncio.gather(*(send(acc, group) for acc, group in groups.items()))
    return _result([results[i] for i in range(len(items))])


def _batch_body(model: str) -> dict:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "maxItems": MAX_BATCH,
                        "items": {"$ref": f"#/components/schemas/{model}"},
                    }
                }
            },
        }
    }


@router.post(
    "/scores",
    response_model=Accepted,
    responses=ERRORS,
    dependencies=[Depends(feed_auth)],
    summary="One account's health score and/or raw metrics",
)
async def post_score(body: ScoreIn, request: Request) -> Accepted:
    return await _score(request.app.state.svc, body)


@router.post(
    "/scores/batch",
    response_model=BatchResult,
    responses=ERRORS,
    dependencies=[Depends(feed_auth)],
    summary="Many scores; the answer says, per item, accepted or the error",
    openapi_extra=_batch_body("ScoreIn"),
)
async def post_scores(request: Request, items: list[Any] = Body(...)) -> BatchResult:
    return await _score_batch(request.app.state.svc, items)


@router.post(
    "/nps",
    response_model=Accepted,
    responses=ERRORS,
    dependencies=[Depends(feed_auth)],
    summary="One NPS answer (0-10); detractors start the recovery play",
)
async def post_nps(body: NpsIn, request: Request) -> Accepted:
    return await _nps(request.app.state.svc, body)


@router.post(
    "/nps/batch",
    response_model=BatchResult,
    responses=ERRORS,
    dependencies=[Depends(feed_auth)],
    summary="Many NPS answers; the answer says, per item, accepted or the error",
    openapi_extra=_batch_body("NpsIn"),
)
async def post_nps_batch(request: Request, items: list[Any] = Body(...)) -> BatchResult:
    return await _batch(request.app.state.svc, items, NpsIn, _nps)


@router.post(
    "/expansion-signals",
    response_model=Accepted,
    responses=ERRORS,
    dependencies=[Depends(feed_auth)],
    summary="An expansion signal (a healthy account with one may start the expansion play)",
)
async def post_signal(body: SignalIn, request: Request) -> Accepted:
    return await _signal(request.app.state.svc, body)
