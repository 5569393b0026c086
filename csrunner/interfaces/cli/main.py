"""`csr`: the command line. Every command has --help."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from csrunner.config.accounts import load_account, load_team
from csrunner.config.catalog import load_catalog
from csrunner.config.settings import Settings
from csrunner.domain.messages import Action
from csrunner.interfaces.cli.support import run_async

console = Console()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Durable customer-success playbooks on Temporal.

    Settings come from the environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DATA_DIR,
    SENDGRID_API_KEY / SENDGRID_API_HOST, SLACK_BOT_TOKEN / SLACK_API_URL (see README)."""


@main.command()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    help="Where Temporal's database and the outbox live (default: ./data).",
)
@click.option("--port", default=7233, show_default=True, help="Temporal frontend port.")
@click.option("--ui-port", default=8233, show_default=True, help="Temporal web UI port.")
@click.option("--http-port", default=8000, show_default=True, help="HTTP service port.")
def up(data_dir, port, ui_port, http_port):
    """Start everything on the embedded default: Temporal dev server (with UI, persisted to
    DATA_DIR/temporal.db), the worker and the HTTP service. Ctrl-C stops it."""
    from csrunner.interfaces.stack import run_stack

    asyncio.run(run_stack(data_dir, port, ui_port, http_port))


@main.command()
def worker():
    """Run the worker alone against TEMPORAL_ADDRESS (scale out by running more)."""
    import worker as worker_module

    asyncio.run(worker_module.main())


@main.command()
@click.argument("playbook")
@click.argument("account_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@run_async
async def start(playbook, account_file):
    """Start PLAYBOOK (e.g. onboarding) for the account described in ACCOUNT_FILE (YAML or JSON).
    Starting the same playbook twice for one account returns the run already going."""
    from csrunner.services.runs import start_run
    from csrunner.services.temporal import connect

    settings = Settings()
    catalog = load_catalog(settings.playbooks_dir, settings.templates_dir)
    account = load_account(account_file, load_team(settings.team_file))
    wid, started = await start_run(await connect(settings), settings, catalog, account, playbook)
    console.print(f"{'started' if started else 'already running'}: [bold]{wid}[/bold]")


@main.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the raw state as JSON.")
@run_async
async def show(run_id, as_json):
    """Show a run's state: current step, what is pending, and its timeline."""
    from csrunner.services.runs import view
    from csrunner.services.temporal import connect

    v = await view(await connect(), run_id)
    if as_json:
        click.echo(v.model_dump_json(indent=2))
        return
    console.print(
        f"[bold]{v.workflow_id}[/bold]  {v.playbook} v{v.version}  {v.status}  day {v.day}  "
        f"current: {v.current_step or '-'}"
    )
    pending = Table("pending", "kind", "assignee", "due (UTC)", "title", title="Pending")
    for p in v.pending:
        pending.add_row(
            p.step_id, p.kind, p.assignee, f"{p.due_at:%Y-%m-%d %H:%M}" if p.due_at else "-", p.title
        )
    console.print(pending)
    timeline = Table("when (UTC)", "day", "step", "outcome", "by", "detail", title="Timeline")
    for r in v.timeline:
        detail = r.reason or r.detail.get("subject") or r.detail.get("to") or ""
        timeline.add_row(f"{r.at:%Y-%m-%d %H:%M}", str(r.day), r.step_id, r.outcome, r.actor, str(detail))
    console.print(timeline)


def _action_command(name: str, help_text: str):
    @main.command(name=name, help=help_text)
    @click.argument("run_id")
    @click.argument("step")
    @click.option("--as", "actor", required=True, help="Who acts (person id, e.g. maria).")
    @click.option("--reason", default="", help="Why; recorded in the timeline.")
    @click.option("--until", "until", default=None, help="snooze: ISO time, or hours from now (e.g. 24).")
    @click.option(
        "--value", type=click.Choice(["yes", "no"]), default=None, help="complete: the answer a task records."
    )
    @click.option("--to", "assignee", default=None, help="reassign: person id or role.")
    @run_async
    async def command(run_id, step, actor, reason, until, value, assignee):
        from csrunner.services.runs import ActionRefused, act
        from csrunner.services.temporal import connect

        action = Action(
            step_id=step,
            action=name,
            actor=actor,
            reason=reason,
            until=_until(until),
            value=None if value is None else value == "yes",
            assignee=assignee,
        )
        try:
            v = await act(await connect(), run_id, action)
        except ActionRefused as e:
            raise click.ClickException(str(e)) from None
        console.print(
            f"{name}: {step} on {run_id} by {actor}; pending now: "
            f"{', '.join(p.step_id for p in v.pending) or 'nothing'}"
        )

    return command


def _until(text):
    if text is None:
        return None
    try:
        return datetime.now(UTC) + timedelta(hours=float(text))
    except ValueError:
        when = datetime.fromisoformat(text)
        return when if when.tzinfo else when.replace(tzinfo=UTC)


for _name, _help in [
    ("approve", "Approve a pending approval step."),
    ("skip", "Skip a pending approval (the step it guards is not sent)."),
    ("snooze", "Snooze an approval or task --until a time (or hours)."),
    ("complete", "Complete a pending task (--value yes/no when it records a fact)."),
    ("reassign", "Reassign a pending approval or task --to another person."),
]:
    _action_command(_name, _help)


@main.command()
def validate():
    """Validate every playbook, template (lint) and scoring model; all errors at once, as
    file:line:column."""
    from csrunner.services.checks import check_all

    ok, problems = check_all(Settings())
    if problems:
        click.echo("\n".join(problems), err=True)
        sys.exit(1)
    click.echo("\n".join(ok))


# Commands of other areas register here.
from csrunner.interfaces.cli.service import serve  # noqa: E402

main.add_command(serve)
from csrunner.interfaces.cli.ops import COMMANDS as _OPS_COMMANDS  # noqa: E402

for _command in _OPS_COMMANDS:
    main.add_command(_command)
from csrunner.interfaces.cli.journey import COMMANDS as _JOURNEY_COMMANDS  # noqa: E402

for _command in _JOURNEY_COMMANDS:
    main.add_command(_command)
