"""Shared plumbing for the fake HTTP services: a Starlette app served by uvicorn
in a daemon thread on 127.0.0.1:<OS-chosen port>, request recording and
failure injection.

The server owns its own event loop in its own thread, so the fakes work the same
from sync tests and from pytest-asyncio tests (the test's loop is never used).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

SPECS = Path(__file__).parent / "specs"


def load_spec(name: str) -> dict:
    return json.loads((SPECS / name).read_text())


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    status: int | None = None  # filled in once the response is chosen
    response_headers: dict[str, str] = field(default_factory=dict)
    received_at: float = field(default_factory=time.time)  # to check a client waited its Retry-After

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class _Failure:
    status: int
    headers: dict[str, str]
    body: Any  # dict -> JSON, bytes/str -> raw, None -> the fake's default
    times: int
    seconds: float | None = None  # a window instead of a count: see fail_for
    until: float | None = None  # the window's end, set by the first request it answers


Handler = Callable[[Request, bytes], Awaitable[Response]]


class FakeServer:
    """Base class. Subclasses implement routes() -> list of starlette Routes whose
    endpoints are wrapped with self.endpoint(...) and default_failure_body()."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._failures: deque[_Failure] = deque()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    # ---- lifecycle -------------------------------------------------------
    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        if self._thread is not None:
            return self
        # Bind ourselves so the port is known before uvicorn starts (no races).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            Starlette(routes=self.routes()),
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="asyncio",
            http="h11",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{type(self).__name__} failed to start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._server.force_exit = True  # don't wait for idle keep-alive clients
        self._thread.join(timeout=10)
        self._server = self._thread = None
        self.port = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- recording / failure injection -------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def fail_next(self, status: int, times: int = 1, headers: dict | None = None, body: Any = None) -> None:
        """The next `times` requests (any route) get `status` instead of being handled."""
        with self._lock:
            self._failures.append(_Failure(status, dict(headers or {}), body, times))

    def fail_for(self, status: int, seconds: float, headers: dict | None = None, body: Any = None) -> None:
        """Every request gets `status` for `seconds`, counted from the first one it answers (so it
        can be queued behind fail_next: "three 429s, then 500s for a minute, then recovered")."""
        with self._lock:
            self._failures.append(_Failure(status, dict(headers or {}), body, 0, seconds))

    def reset(self) -> None:
        """Forget recorded traffic, pending failures and subclass state."""
        with self._lock:
            self._requests.clear()
            self._failures.clear()
            self._reset_state()

    def _reset_state(self) -> None:  # subclass hook, called under the lock
        pass

    def default_failure_body(self, status: int) -> Any:
        return {"error": status}

    def default_failure_headers(self, status: int) -> dict[str, str]:
        return {}

    def _take_failure(self) -> _Failure | None:
        with self._lock:
            while self._failures:
                f = self._failures[0]
                if f.seconds is None:
                    f.times -= 1
                    if f.times <= 0:
                        self._failures.popleft()
                    return f
                now = time.monotonic()
                f.until = f.until or now + f.seconds
                if now < f.until:
                    return f
                self._failures.popleft()  # the window is over: on to the next failure, if any
            return None

    def endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a route handler: record the request, apply injected failures."""

        async def wrapped(request: Request) -> Response:
            body = await request.body()
            rec = RecordedRequest(
                method=request.method,
                path=request.url.path,
                query={k: request.query_params.getlist(k) for k in request.query_params},
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
            )
            with self._lock:
                self._requests.append(rec)
            failure = self._take_failure()
            if failure is not None:
                payload = (
                    failure.body if failure.body is not None else self.default_failure_body(failure.status)
                )
                headers = {**self.default_failure_headers(failure.status), **failure.headers}
                response = raw_or_json(payload, failure.status, headers)
            else:
                response = await handler(request, body)
            rec.status = response.status_code
            rec.response_headers = {k: v for k, v in response.headers.items()}
            return response

        return wrapped

    def routes(self) -> list:
        raise NotImplementedError


def raw_or_json(payload: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    if isinstance(payload, (bytes, str)):
        return Response(payload, status_code=status, headers=headers)
    return json_response(payload, status, headers)


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), status_code=status, headers=headers, media_type="application/json")


def bearer_token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
