"""`csr report`: the team's KPIs and play effectiveness as a table, JSON or CSV.
Registered in csrunner.interfaces.cli.main."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime

import click
from rich.console import Console
from rich.table import Table

from csrunner.config.settings import Settings
from csrunner.interfaces.cli.support import run_async

console = Console(width=None if sys.stdout.isatty() else 1000)


@click.command("report")
@click.option(
    "--as", "who", required=True, help="Who asks: a person id from the team file (scopes the report)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the report as CSV rows.")
@click.option(
    "--concurrency",
    default=32,
    show_default=True,
    help="Views asked at once (only runs from before the dashboard read model are asked).",
)
@run_async(nothing="changed")
async def report_command(who, as_json, as_csv, concurrency):
    """The team dashboard: accounts by band and phase (12-week trend), time to first value,
    onboarding completion, NPS (portfolio and per CSM, against the seed targets), renewals,
    expansion pipeline, approvals pending and overdue by person, escalations in the last 30
    days, and per play: runs, completion and band improvement with and without its emails
    (holdout). A CSM sees their accounts, a manager their team, ops and executives all."""
    from csrunner.config.accounts import load_team
    from csrunner.config.catalog import load_catalog
    from csrunner.services.report import ROW_FIELDS, gather, rows, scope_of
    from csrunner.services.runs import ActionRefused, live
    from csrunner.services.temporal import connect

    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    settings = Settings()
    try:
        _, scope = scope_of(load_team(settings.team_file), who)
    except ActionRefused as e:
        raise click.ClickException(str(e)) from None
    catalog = live(settings, load_catalog(settings.playbooks_dir, settings.templates_dir))
    r = await gather(await connect(settings), settings, catalog, scope, datetime.now(UTC), concurrency)
    if as_json:
        click.echo(r.model_dump_json(indent=2))
        return
    flat = rows(r)
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=ROW_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat)
        return
    table = Table(*ROW_FIELDS, title=f"Team report for {who}")
    for row in flat:
        table.add_row(*row.values())
    console.print(table)


COMMANDS = [report_command]
