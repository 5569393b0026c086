"""`csr` commands of the account journey: health scores, NPS answers, expansion signals, the CSV
import, the deal that starts a journey, and a journey's state. Registered in csrunner.interfaces.cli.main."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from csrunner.config.settings import Settings
from csrunner.interfaces.cli.support import run_async
from csrunner.interfaces.cli.zones import AS_HELP, reader_zone, when, zone_name

console = Console()


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"not an ISO-8601 time: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


async def _client(settings: Settings):
    from csrunner.services.temporal import connect

    return await connect(settings)


@click.command("score")
@click.argument("account_id")
@click.option("--score", "score", type=float, default=None, help="A ready health score, 0-100.")
@click.option(
    "--metrics",
    "metrics_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help='A JSON file of raw metrics, scored by the model (e.g. {"roi_pct": 250}).',
)
@click.option("--at", "at", default=None, help="When it was measured (ISO-8601; default: now).")
@click.option("--source", default="cli", show_default=True, help="Who sends it (shown in the timeline).")
@run_async(nothing="sent")
async def score_command(account_id, score, metrics_file, at, source):
    """Send a health score (--score) or raw metrics (--metrics FILE) for ACCOUNT_ID to its journey.

    The journey scores it, evaluates the escalation triggers and starts or preempts plays. An
    account whose deal has not closed yet keeps the update until it does."""
    from csrunner.domain.values import check_account_id
    from csrunner.services.journeys import push_score, score_update

    metrics = None
    if metrics_file is not None:
        try:
            metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{metrics_file}: not JSON: {e}") from None
    settings = Settings()
    if (score is None) == (metrics is None):
        raise ValueError("give exactly one of --score or --metrics")
    check_account_id(account_id)
    score_update(settings, score=score, metrics=metrics, at=_when(at), source=source)  # before connecting
    wid = await push_score(
        await _client(settings),
        settings,
        account_id,
        score=score,
        metrics=metrics,
        at=_when(at),
        source=source,
    )
    console.print(f"sent to [bold]{wid}[/bold]")


@click.command("nps")
@click.argument("account_id")
@click.argument("score", type=int)
@click.option("--comment", default="", help="What the customer wrote.")
@click.option("--at", "at", default=None, help="When they answered (ISO-8601; default: now).")
@run_async(nothing="sent")
async def nps_command(account_id, score, comment, at):
    """Record an NPS answer (SCORE 0-10) for ACCOUNT_ID: 0-6 starts the recovery play, 9-10 after
    measurable ROI gets the referral / case-study ask."""
    from csrunner.domain.lifecycle import nps_category
    from csrunner.services.journeys import nps_answer, push_nps

    settings = Settings()
    nps_answer(account_id, score, comment, _when(at))  # checked before connecting
    wid = await push_nps(await _client(settings), settings, account_id, score, comment, _when(at))
    console.print(f"sent to [bold]{wid}[/bold] ({nps_category(score)})")


@click.command("expansion")
@click.argument("account_id")
@click.argument("signal")
@click.option("--detail", default="", help="What was seen (e.g. 'their team doubled').")
@run_async(nothing="sent")
async def expansion_command(account_id, signal, detail):
    """Send an expansion SIGNAL for ACCOUNT_ID (seed 004's: high_usage, positive_roi, team_growth,
    new_initiative, budget_approved): a healthy account enters the 4-week expansion play."""
    from csrunner.services.journeys import expansion_signal, push_expansion_signal

    settings = Settings()
    expansion_signal(account_id, signal, detail)  # checked before connecting
    wid = await push_expansion_signal(await _client(settings), settings, account_id, signal, detail)
    console.print(f"sent to [bold]{wid}[/bold]")


@click.command("deal-closed")
@click.argument("account_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--deal", "deal_id", default=None, help="Deal id (default: the account file's deal_id).")
@run_async(nothing="sent")
async def deal_closed_command(account_file, deal_id):
    """Start the account journey for the account in ACCOUNT_FILE (YAML or JSON): onboarding, then
    scaling, NPS on days 45 and 90, and the plays its health calls for. The same deal twice
    starts it once."""
    from csrunner.config.accounts import load_account, load_team
    from csrunner.config.facts import facts_schema
    from csrunner.services.journeys import deal_closed

    settings = Settings()
    account = load_account(account_file, load_team(settings.team_file), facts_schema(settings.facts_path))
    deal = deal_id or account.deal_id
    if not deal:
        raise ValueError("the account has no deal_id: give --deal")
    wid, new = await deal_closed(await _client(settings), settings, account, deal)
    console.print(f"{'started' if new else 'already recorded'}: [bold]{wid}[/bold]")


@click.command("journey")
@click.argument("account_id")
@click.option("--json", "as_json", is_flag=True, help="Print the raw view as JSON (times in UTC, ISO).")
@click.option("--as", "reader", default=None, metavar="PERSON", help=AS_HELP)
@run_async(nothing="sent")
async def journey_command(account_id, as_json, reader):
    """Show ACCOUNT_ID's journey: band, score, NPS, plays and its timeline, with times in the
    reader's zone (--as PERSON's, else this machine's)."""
    from csrunner.config.accounts import load_team
    from csrunner.services.journeys import journey_view

    settings = Settings()
    team = load_team(settings.team_file)
    zone = reader_zone(team, reader)  # before connecting
    v = await journey_view(await _client(settings), account_id)
    if as_json:
        click.echo(v.model_dump_json(indent=2))
        return
    console.print(
        f"[bold]{v.workflow_id}[/bold]  {v.account_name}  CSM {_csm_name(team, v.csm_id)}  {v.phase}  "
        f"day {v.lifecycle_day}  "
        f"band {v.band or '-'}  score {v.score if v.score is not None else '-'}  "
        f"NPS {v.account_nps if v.account_nps is not None else '-'}  updates {v.updates}"
    )
    tz = zone_name(zone)
    plays = Table("play", "status", f"started ({tz})", "why", title="Plays")
    for p in v.plays:
        plays.add_row(p.workflow_id, p.status, when(p.started_at, zone), p.reason)
    console.print(plays)
    if v.facts:  # account facts, as plays started from now on see them
        facts = Table("fact", "value", title="Facts")
        for name, value in sorted(v.facts.items()):
            facts.add_row(name, "; ".join(value) if isinstance(value, list) else str(value))
        console.print(facts)
    timeline = Table(f"when ({tz})", "day", "what", "", title="Timeline")
    for e in v.timeline:
        timeline.add_row(when(e.at, zone), str(e.day if e.day is not None else "-"), e.kind, e.text)
    console.print(timeline)


def _csm_name(team, csm_id: str) -> str:
    member = team.get(csm_id)
    return member.name if member else csm_id or "-"


@click.command("import-scores")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--concurrency", default=64, show_default=True, help="Accounts sent to at once.")
@click.option(
    "--wait", default=60.0, show_default=True, help="Seconds to wait for a journey to apply its rows."
)
@click.option("--max-mb", default=200.0, show_default=True, help="Refuse files larger than this.")
@run_async(nothing="sent")
async def import_scores_command(csv_file, concurrency, wait, max_mb):
    """Import a CSV of health scores for many accounts, then summarise what changed.

    Columns: account_id, then either `score` (0-100) or metric columns scored by the model
    (empty cells are missing metrics); optional `at` (ISO-8601) and `source`. The file is
    streamed: every line is checked first (the first 20 problems are listed, with a count of
    the rest) and nothing is sent unless the whole file is valid; then each account's rows go
    to its journey as one batch, and the command returns once every journey has applied them."""
    from csrunner.services.score_import import check_file, import_scores, validate_scores_csv

    settings = Settings()
    check_file(csv_file, max_mb)
    rows = validate_scores_csv(settings, csv_file)  # before connecting
    client = await _client(settings)
    with Progress(
        TextColumn("[bold]applying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("scores", total=rows)
        summary = await import_scores(
            client,
            settings,
            csv_file,
            lambda n: progress.advance(task, n),
            concurrency=concurrency,
            wait=wait,
        )
    print_summary(summary)


def print_summary(s) -> None:
    console.print(f"{s.rows} rows for {s.accounts} accounts applied in {s.seconds:g} s")
    bands = Table("band", "accounts", title="Accounts per band")
    for band, n in sorted(s.bands.items()):
        bands.add_row(band, str(n))
    console.print(bands)
    console.print(
        f"band changes: {len(s.band_changes)}"
        + "".join(f"\n  {acc}: {change}" for acc, change in sorted(s.band_changes.items()))
    )
    console.print(f"plays started: {len(s.plays_started)}" + "".join(f"\n  {p}" for p in s.plays_started))
    console.print(f"escalations (trigger alerts sent): {s.escalations}")
    if s.waiting_for_deal:
        console.print(f"kept until their deal closes: {', '.join(s.waiting_for_deal)}")
    if s.rejected:
        console.print(f"[yellow]updates the journeys could not score: {s.rejected}[/yellow]")
    if s.not_processed:
        console.print(
            f"[yellow]recorded, not applied within --wait (is a worker running?): "
            f"{', '.join(s.not_processed)}[/yellow]"
        )


COMMANDS = [
    score_command,
    nps_command,
    expansion_command,
    deal_closed_command,
    journey_command,
    import_scores_command,
]
