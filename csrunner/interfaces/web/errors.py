"""One error shape for every endpoint ({"error": "...", ...}) and the mapping of Temporal
failures: unreachable → 503 (the sender retries), unknown workflow → 404, never a 500."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import RPCTimeoutOrCancelledError, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError, RPCStatusCode

UNAVAILABLE_CODES = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.UNKNOWN,
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of an endpoint: each status documented with the one error shape."""
    return {s: {"model": ErrorBody} for s in statuses}


class ErrorBody(BaseModel):
    error: str
    detail: Any = None


class ServiceError(Exception):
    def __init__(self, status: int, message: str, detail: Any = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.detail, self.headers = status, message, detail, headers


def unavailable(why: str) -> ServiceError:
    """Temporal could not be reached at all: the request never got there."""
    return ServiceError(
        503,
        f"Temporal is unreachable, nothing was recorded; retry later ({why})",
        headers={"Retry-After": "5"},
    )


RETRY_IS_SAFE = (
    "retrying is safe (a repeated start or signal changes nothing, a repeated action says who acted)"
)


def uncertain(why: str, reachable: bool = True) -> ServiceError:
    """The request may have reached Temporal before the failure: say so, never 'nothing recorded'."""
    if not reachable:
        return ServiceError(
            503, f"Temporal is unreachable ({why}); {RETRY_IS_SAFE}", headers={"Retry-After": "5"}
        )
    return ServiceError(
        503,
        f"no answer from Temporal ({why}): it may or may not have been recorded; {RETRY_IS_SAFE}",
        headers={"Retry-After": "5"},
    )


async def _reachable(address: str) -> bool:
    """Whether Temporal's port takes a connection now (after a call got no answer)."""
    host, _, port = address.rpartition(":")
    try:
        async with asyncio.timeout(1):
            _, writer = await asyncio.open_connection(host.strip("[]") or "127.0.0.1", int(port))
        writer.close()
        return True
    except (OSError, TimeoutError, ValueError):
        return False


@asynccontextmanager
async def temporal_call(svc, what: str, timeout: float | None = None):
    """Around every Temporal call: a bounded wait, and failures mapped to clear answers."""
    timeout = timeout or svc.config.temporal_timeout
    try:
        async with asyncio.timeout(timeout):
            yield
    except (TimeoutError, RPCTimeoutOrCancelledError):
        svc.drop_client()
        reachable = await _reachable(svc.settings.temporal_address)
        raise uncertain(f"none within {timeout:g} s while {what}", reachable) from None
    except (WorkflowQueryFailedError, WorkflowQueryRejectedError) as e:
        raise ServiceError(409, f"the run could not answer while {what}: {e}") from None
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise ServiceError(404, f"not found while {what}: {e.message}") from None
        if e.status == RPCStatusCode.INVALID_ARGUMENT:
            raise ServiceError(422, f"Temporal refused the request while {what}: {e.message}") from None
        if e.status in (RPCStatusCode.FAILED_PRECONDITION, RPCStatusCode.ALREADY_EXISTS):
            raise ServiceError(409, f"{e.message} (while {what})") from None
        reachable = True
        if e.status in UNAVAILABLE_CODES:
            svc.drop_client()
            reachable = await _reachable(svc.settings.temporal_address)
        raise uncertain(f"{e.status.name if e.status else 'error'} while {what}", reachable) from None


def _field(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "body"


def describe_validation(errors: Sequence[Mapping[str, Any]]) -> tuple[int, str]:
    if any(e.get("type") == "json_invalid" for e in errors):
        e = next(e for e in errors if e.get("type") == "json_invalid")
        return 400, f"malformed JSON: {e.get('ctx', {}).get('error', e.get('msg'))}"
    parts = [f"field '{_field(e.get('loc', ()))}': {e.get('msg')}" for e in errors[:10]]
    return 422, "; ".join(parts)


def install(app) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        return JSONResponse(
            ErrorBody(error=exc.message, detail=exc.detail).model_dump(exclude_none=True),
            status_code=exc.status,
            headers=exc.headers,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        """Starlette's own answers (404 no such path, 405, 413) in the same shape."""
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [{k: v for k, v in e.items() if k != "input"} for e in exc.errors()]
        status, message = describe_validation(errors)
        return JSONResponse({"error": message, "detail": _jsonable(errors)}, status_code=status)


def _jsonable(errors: list[dict]) -> list[dict]:
    """Validation contexts may hold exceptions; keep only what JSON can carry."""
    out = []
    for e in errors:
        ctx = {k: str(v) for k, v in (e.get("ctx") or {}).items()}
        out.append(
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg")),
                "type": str(e.get("type")),
                **({"ctx": ctx} if ctx else {}),
            }
        )
    return out
