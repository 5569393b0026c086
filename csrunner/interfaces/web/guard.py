"""Limits and checks that come before any work: a body cap (413) enforced on the declared
Content-Length and on the bytes actually streamed, authentication before the body is read or
validated, and the headers every response carries (CSP, frames, content types)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Pages that need nothing but our own files (the inbox): no inline script or style at all.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
)
#: Swagger UI and ReDoc set styles at run time, and ReDoc starts a worker from a blob.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "worker-src 'self' blob:; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
)
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class BodyTooLarge(HTTPException):
    """An HTTPException so that FastAPI's body reader lets it through as it is (not a 400)."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body too large: at most {limit} bytes")


def _answer(status: int, message: str) -> tuple[Message, Message]:
    body = json.dumps({"error": message}).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        + [*HEADERS, (b"content-security-policy", CSP.encode()), (b"connection", b"close")],
    }
    return start, {"type": "http.response.body", "body": body}


class Guard:
    """Pure ASGI middleware: the body cap for `limit_for(path)` bytes, and security headers."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]):
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.limit_for(path)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            for message in _answer(413, BodyTooLarge(limit).detail):  # not one byte read
                await send(message)
            return
        seen, started = 0, False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # a chunked body, or one longer than it said
                    raise BodyTooLarge(limit)
            return message

        csp = DOCS_CSP if path in ("/docs", "/redoc") else CSP

        async def secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers") or [])
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in HEADERS if k not in names]
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", csp.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, counted, secured)
        except BodyTooLarge as e:  # raised while a handler read the body itself
            if started:
                raise
            for message in _answer(413, e.detail):
                await send(message)


def auth_first(check: Callable[[Request], Awaitable[None]]) -> type[APIRoute]:
    """A route class whose requests are authenticated before FastAPI reads or validates the
    body: without the right token nothing is read, parsed or checked."""

    class AuthFirstRoute(APIRoute):
        def get_route_handler(self):
            handler = super().get_route_handler()

            async def guarded(request: Request):
                await check(request)
                return await handler(request)

            return guarded

    return AuthFirstRoute
