"""`csr facts ACCOUNT name=value ...`: tell an account's journey facts (playbooks/scoring/facts.yaml)
that its emails use, e.g. this month's revenue. Registered in csrunner.interfaces.cli.main."""

from __future__ import annotations

import click
from rich.console import Console

from csrunner.config.settings import Settings
from csrunner.interfaces.cli.support import run_async

console = Console()


def parse_assignments(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"'{pair}': write each fact as name=value (e.g. revenue_generated=48200)")
        out[name.strip()] = value
    return out


@click.command("facts")
@click.argument("account_id")
@click.argument("assignments", nargs=-1, required=True, metavar="NAME=VALUE...")
@click.option("--source", default="cli", show_default=True, help="Who tells it (shown in the timeline).")
@run_async(nothing="sent")
async def facts_command(account_id, assignments, source):
    """Tell ACCOUNT_ID's journey some account facts, e.g.
    `csr facts acme revenue_generated=48200 roi_percent=340 open_issues="Slow sync;No SSO"`.

    Each must be declared in playbooks/scoring/facts.yaml (a list takes `;` between items, a date
    YYYY-MM-DD). Plays started from now on see them as account.facts.<name>; nothing is scored."""
    from csrunner.domain.values import check_account_id
    from csrunner.services.journeys import check_facts, push_score
    from csrunner.services.temporal import connect

    settings = Settings()
    check_account_id(account_id)
    facts = check_facts(settings, parse_assignments(assignments), text=True)  # before connecting
    wid = await push_score(await connect(settings), settings, account_id, facts=facts, source=source)
    console.print(f"sent to [bold]{wid}[/bold]: {', '.join(sorted(facts))}")
