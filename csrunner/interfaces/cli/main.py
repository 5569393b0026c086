"""`csr`: the command line. Every command has --help."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from csrunner.config.accounts import load_account, load_team
from csrunner.config.catalog import load_catalog
from csrunner.config.facts import facts_schema
from csrunner.config.settings import Settings
from csrunner.domain.messages import Action
from csrunner.interfaces.cli.support import Commands, run_async
from csrunner.interfaces.cli.zones import AS_HELP, reader_zone, when, zone_name

# Piped or captured output is never wrapped at 80 columns: run ids and names stay whole to copy.
console = Console(width=None if sys.stdout.isatty() else 1000)
ACCOUNT_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
MAX_SNOOZE_HOURS = 365 * 24


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Durable customer-success playbooks on Temporal.

    The CLI is an operator's tool with direct access to Temporal: `--as PERSON` names a team
    member and gets the same rights check as the HTTP API (a CSM acts on their own accounts).

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
    from csrunner.config.startup import or_exit, stack_settings
    from csrunner.interfaces.stack import run_stack

    or_exit(stack_settings)  # bad configuration: one line each, before anything starts
    asyncio.run(run_stack(data_dir, port, ui_port, http_port))


@main.command()
def worker():
    """Run the worker alone against TEMPORAL_ADDRESS (scale out by running more)."""
    import worker as worker_module

    asyncio.run(worker_module.main())


@main.command()
@click.argument("playbook")
@click.argument("account_file", type=ACCOUNT_FILE)
@run_async
async def start(playbook, account_file):
    """Start PLAYBOOK (e.g. onboarding) for the account described in ACCOUNT_FILE (YAML or JSON).
    Starting the same playbook twice for one account returns the run already going; a play the
    account's journey runs itself (after `csr deal-closed`) is refused."""
    from csrunner.services.runs import ActionRefused, start_run
    from csrunner.services.temporal import connect

    settings = Settings()
    catalog = load_catalog(settings.playbooks_dir, settings.templates_dir)
    account = load_account(account_file, load_team(settings.team_file), facts_schema(settings.facts_path))
    if playbook not in catalog.definitions:
        raise ValueError(f"unknown playbook {playbook!r} (known: {', '.join(sorted(catalog.definitions))})")
    try:
        wid, started = await start_run(await connect(settings), settings, catalog, account, playbook)
    except ActionRefused as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{'started' if started else 'already running'}: {wid}")


def _name(team, pid: str) -> str:
    """'María García (maria)' for a team member; actors such as 'playbook' as they are."""
    p = team.get(pid)
    return f"{p.name} ({pid})" if p else pid


@main.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the raw state as JSON (times in UTC, ISO).")
@click.option("--as", "reader", default=None, metavar="PERSON", help=AS_HELP)
@run_async
async def show(run_id, as_json, reader):
    """Show a run's state: account, current step, what is pending, and its timeline, with people
    by name and times in the reader's zone (--as PERSON's, else this machine's)."""
    from csrunner.services.runs import view
    from csrunner.services.temporal import connect

    team = load_team(Settings().team_file)
    zone = reader_zone(team, reader)  # before connecting: an unknown --as goes no further
    client = await connect()
    desc = await client.get_workflow_handle(run_id).describe()
    if desc.workflow_type != "PlaybookWorkflow":
        account = run_id.removeprefix("journey:")
        hint = f"`csr journey {account}`" if run_id.startswith("journey:") else "`csr journey ACCOUNT`"
        raise click.ClickException(
            f"{run_id} is a {desc.workflow_type}, not a playbook run: see it with {hint}"
        )
    v = await view(client, run_id)
    if as_json:
        click.echo(v.model_dump_json(indent=2))
        return
    current = v.current_step or "-"
    account = f"{v.account_name} ({v.account_id})" if v.account_name else v.account_id
    click.echo(
        f"{v.workflow_id}  {account}  {v.playbook} v{v.version}  {v.status}  day {v.day}  current: {current}"
    )
    tz = zone_name(zone)
    pending = Table("pending", "kind", "assignee", f"due ({tz})", "title", title="Pending")
    for p in v.pending:
        pending.add_row(p.step_id, p.kind, _name(team, p.assignee), when(p.due_at, zone), p.title)
    console.print(pending)
    timeline = Table(f"when ({tz})", "day", "step", "outcome", "by", "detail", title="Timeline")
    for r in v.timeline:
        detail = r.reason or r.detail.get("subject") or r.detail.get("to") or ""
        timeline.add_row(
            when(r.at, zone), str(r.day), r.step_id, r.outcome, _name(team, r.actor), str(detail)
        )
    console.print(timeline)


ACTIONS = {
    "approve": "Approve a pending approval step (--edit part=text rewrites a part of its email).",
    "skip": "Skip a pending approval (the step it guards is not sent).",
    "reject": "Reject a pending approval: a skip that must say why (--reason).",
    "snooze": "Snooze an approval or task --until a time (or hours from now).",
    "complete": "Complete a pending task (--value yes/no when it records a fact).",
    "reassign": "Reassign a pending approval or task --to another person or role.",
    "resend": "Resend the email of a 'check whether this email reached the customer' task.",
}
#: The options each action takes beyond --as and --reason (its --help lists only these).
EXTRA = {
    "snooze": click.option(
        "--until", "until", required=True, help="ISO time, or hours from now (e.g. 24); at most a year."
    ),
    "complete": click.option(
        "--value", type=click.Choice(["yes", "no"]), default=None, help="The answer a task records."
    ),
    "reassign": click.option("--to", "assignee", required=True, help="Person id or role (csm, manager)."),
    "approve": click.option(
        "--edit",
        "edits",
        multiple=True,
        metavar="PART=TEXT",
        help="Rewrite an editable part of the email before it goes (repeatable; \\n for a new line).",
    ),
}


def _edits(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        part, eq, text = pair.partition("=")
        if not eq or not part.strip():
            raise click.BadParameter(f"expected PART=TEXT, got {pair!r}", param_hint="--edit")
        out[part.strip()] = text.replace("\\n", "\n")
    return out


def _action_command(name: str, help_text: str):
    async def command(run_id, step, actor, reason, until=None, value=None, assignee=None, edits=()):
        from csrunner.services.runs import ActionRefused, act_as, member
        from csrunner.services.temporal import connect

        team = load_team(Settings().team_file)
        try:
            member(team, actor)  # before connecting: a typo or a made-up name goes no further
        except ActionRefused as e:
            raise click.ClickException(f"{e}; nothing done") from None
        try:
            action = Action(
                step_id=step,
                action=name,
                actor=actor,
                reason=reason,
                until=_until(until),
                value=None if value is None else value == "yes",
                assignee=assignee,
                edits=_edits(edits),
            )
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err["loc"]) or name
            raise click.ClickException(f"{where}: {err['msg'].removeprefix('Value error, ')}") from None
        try:
            v = await act_as(await connect(), team, run_id, action)
        except ActionRefused as e:
            raise click.ClickException(str(e)) from None
        click.echo(
            f"{name}: {step} on {run_id} by {_name(team, actor)}; pending now: "
            f"{', '.join(p.step_id for p in v.pending) or 'nothing'}"
        )

    decorated = run_async(nothing="done")(command)
    if name in EXTRA:
        decorated = EXTRA[name](decorated)
    decorated = click.option(
        "--reason",
        default="",
        help="Why; recorded in the timeline"
        + (" (required: a reject says why)." if name == "reject" else "."),
    )(decorated)
    decorated = click.option(
        "--as", "actor", required=True, help="Who acts: a person id from the team file (e.g. maria)."
    )(decorated)
    decorated = click.argument("step")(decorated)
    decorated = click.argument("run_id")(decorated)
    return main.command(name=name, help=help_text)(decorated)


def _until(text):
    """Hours from now (at most a year), or an ISO time; a time without offset is UTC."""
    if text is None:
        return None
    try:
        hours = float(text)
    except ValueError:
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise click.BadParameter(f"not hours nor an ISO time: {text!r}", param_hint="--until") from None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    if not 0 < hours <= MAX_SNOOZE_HOURS:
        raise click.BadParameter(
            f"hours from now must be more than 0 and at most {MAX_SNOOZE_HOURS}", param_hint="--until"
        )
    return datetime.now(UTC) + timedelta(hours=hours)


for _name_, _help in ACTIONS.items():
    _action_command(_name_, _help)


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


def run() -> None:
    """The `csr` executable: `main`, then an exit that skips Python's finalization, during which
    the Temporal client's Rust threads may still call into Python and abort the process (a
    'Fatal Python error' after a command that succeeded)."""
    try:
        main()  # standalone: always ends in SystemExit
        code: object = 0
    except SystemExit as e:
        code = e.code
    if isinstance(code, str):
        print(code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))


# Commands of other areas register here.
from csrunner.interfaces.cli.service import serve  # noqa: E402

main.add_command(serve)
from csrunner.interfaces.cli.ops import COMMANDS as _OPS_COMMANDS  # noqa: E402

for _command in _OPS_COMMANDS:
    main.add_command(_command)
from csrunner.interfaces.cli.journey import COMMANDS as _JOURNEY_COMMANDS  # noqa: E402

for _command in _JOURNEY_COMMANDS:
    main.add_command(_command)
from csrunner.interfaces.cli.report import COMMANDS as _REPORT_COMMANDS  # noqa: E402

for _command in _REPORT_COMMANDS:
    main.add_command(_command)
from csrunner.interfaces.cli.facts import facts_command  # noqa: E402

main.add_command(facts_command)
