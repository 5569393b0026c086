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
    HUBSPOT_API_URL, HUBSPOT_CLOSED_WON_STAGES, DEAL_WEBHOOK_TOKEN, FEED_TOKEN, SLACK_SIGNING_SECRET,
    SLACK_BOT_TOKEN, SLACK_API_URL, API_TOKENS ("token:person_id,..."), API_TOKENS_FILE, TEAM_FILE
    (README "Configuration (environment)"). A missing or malformed value is refused, one line each.
    It starts even when Temporal is down, answering 503 until Temporal is back."""
    import uvicorn

    from csrunner.config.startup import or_exit, service_settings
    from csrunner.interfaces.web.app import create_app
    from csrunner.services.telemetry import configure_logging

    settings, config = or_exit(service_settings)  # bad configuration: one line each, exit 1
    configure_logging(settings)
    click.echo(f"service on http://{host}:{port} (docs at /docs), Temporal at {settings.temporal_address}")
    app = create_app(settings, config=config)  # log_config=None: uvicorn's lines go through ours
    uvicorn.run(app, host=host, port=port, log_level="info", log_config=None)
