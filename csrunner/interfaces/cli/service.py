"""`csr serve`: the HTTP service alone, against TEMPORAL_ADDRESS (a real cluster or `csr up`'s)."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0 for all)."
)
@click.option("--port", default=8000, show_default=True, help="HTTP port.")
def serve(host: str, port: int) -> None:
    """Run the HTTP service (webhooks, feeds, Slack buttons, action API, inbox; docs at /docs).

    Settings from the environment: TEMPORAL_ADDRESS, HUBSPOT_CLIENT_SECRET, HUBSPOT_ACCESS_TOKEN,
    HUBSPOT_CLOSED_WON_STAGES, DEAL_WEBHOOK_TOKEN, FEED_TOKEN, SLACK_SIGNING_SECRET,
    SLACK_BOT_TOKEN, SLACK_API_URL, API_TOKENS ("token:person_id,..."), API_TOKENS_FILE, TEAM_FILE
    (README "Configuration (environment)"). A missing or malformed value is refused, one line each.
    It starts even when Temporal is down, answering 503 until Temporal is back. SIGTERM or
    Ctrl-C: stop accepting, let in-flight requests finish (up to HTTP_SHUTDOWN_GRACE seconds,
    default 10), exit 0; a second signal exits at once."""
    import asyncio

    import uvicorn

    from csrunner.config.startup import or_exit, service_settings
    from csrunner.interfaces.http_server import EmbeddedServer
    from csrunner.interfaces.web.app import create_app
    from csrunner.services.dev_server import busy_port
    from csrunner.services.shutdown import on_stop_signals
    from csrunner.services.telemetry import configure_logging

    settings, config = or_exit(service_settings)  # bad configuration: one line each, exit 1
    if busy_port([port], host):
        raise click.ClickException(f"port {port} is already in use (stop what uses it or pass --port)")
    configure_logging(settings)
    server = EmbeddedServer(
        uvicorn.Config(
            create_app(settings, config=config),
            host=host,
            port=port,
            log_level="info",
            log_config=None,  # uvicorn's lines go through our logging
            timeout_graceful_shutdown=settings.http_shutdown_grace,
        )
    )

    async def serve_until_stopped() -> None:
        on_stop_signals(lambda: setattr(server, "should_exit", True))
        await server.serve()

    click.echo(f"service on http://{host}:{port} (docs at /docs), Temporal at {settings.temporal_address}")
    asyncio.run(serve_until_stopped())
