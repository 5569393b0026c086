"""Commands for ops who edit playbooks: lint, schema, preview, diff, publish, migrate (and
`published`, the registry's history). Registered on `csr` at the end of csrunner/cli.py."""

from __future__ import annotations

import asyncio
import functools
import sys
from pathlib import Path
from typing import NoReturn

import click

from csrunner.config.accounts import load_account, load_team
from csrunner.config.catalog import Catalog, load_catalog
from csrunner.config.facts import facts_schema
from csrunner.config.settings import Settings
from csrunner.config.sourcemap import DefinitionError
from csrunner.services.checks import check_all
from csrunner.services.checks import relative as _rel

ACCOUNT = click.Path(exists=True, dir_okay=False, path_type=Path)


def _ops(settings: Settings, who: str, what: str) -> None:
    """The same rule as everywhere: only ops publish and migrate (the team file says who)."""
    from csrunner.services.runs import ActionRefused, check_ops

    try:
        check_ops(load_team(settings.team_file), who, what)
    except ActionRefused as e:
        _fail([f"{e}; nothing done"])


def _fail(lines) -> NoReturn:
    for line in lines:
        click.echo(_rel(line), err=True)
    sys.exit(1)


def _catalog(settings: Settings) -> Catalog:
    try:
        return load_catalog(settings.playbooks_dir, settings.templates_dir)
    except DefinitionError as e:
        _fail(e.issues)


@click.command()
def lint():
    """Check every template against the context its step renders with (a typo such as
    {{ acount.name }} is an error, as file:line), and that it renders in the sandbox."""
    from csrunner.config.facts import load_facts_schema
    from csrunner.services.lint import lint_catalog

    settings = Settings()
    try:
        facts = load_facts_schema(settings.facts_path)
    except DefinitionError as e:
        _fail(e.issues)
    issues = lint_catalog(_catalog(settings), settings.templates_dir, facts=facts)
    if issues:
        _fail(issues)
    click.echo("ok  every template uses only variables its steps provide")


@click.command()
@click.option("--write", is_flag=True, help="Write playbooks/playbook.schema.json instead of printing.")
def schema(write):
    """The JSON Schema of the playbook format, for editors (YAML language server, VS Code)."""
    from csrunner.services.schema import schema_text, write_schema

    if write:
        click.echo(f"wrote {_rel(str(write_schema()))}")
    else:
        click.echo(schema_text(), nl=False)


def _preview_options(fn):
    @click.option(
        "--approvals",
        type=click.Choice(["approve", "skip", "none"]),
        default="approve",
        show_default=True,
        help="How approvals are answered; none shows what the deadlines do.",
    )
    @click.option(
        "--tasks",
        type=click.Choice(["complete", "none"]),
        default="complete",
        show_default=True,
        help="Whether tasks are completed (or left to escalate).",
    )
    @click.option(
        "--first-value",
        "answer",
        type=click.Choice(["yes", "no"]),
        default="yes",
        show_default=True,
        help="What tasks that record a fact answer (e.g. first value reached).",
    )
    @click.option(
        "--start", "start_at", default="10:00", show_default=True, help="Local time the run starts."
    )
    @functools.wraps(fn)
    def wrapper(*args, approvals, tasks, answer, start_at, **kw):
        from csrunner.services.preview import Options

        return fn(
            *args,
            options=Options(approvals=approvals, tasks=tasks, answer=answer == "yes", start_at=start_at),
            **kw,
        )

    return wrapper


def _write(text: str, out: Path | None) -> None:
    if out:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)


def _playbook(settings: Settings, ref: str) -> tuple[Catalog, str]:
    """An id from the catalog, or a YAML file: a candidate version swapped into the catalog."""
    catalog = _catalog(settings)
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        try:
            catalog = catalog.with_file(path, settings.templates_dir)
            from csrunner.config.sourcemap import read_yaml

            return catalog, read_yaml(path).data["id"]
        except DefinitionError as e:
            _fail(e.issues)
    return catalog, ref


@click.command()
@click.argument("playbook")
@click.argument("account_file", type=ACCOUNT)
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
@click.option("--body", is_flag=True, help="Include each message's rendered body.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file.")
@_preview_options
def preview(playbook, account_file, fmt, body, out, options):
    """Run PLAYBOOK (an id, or a YAML file not yet published) for the account in ACCOUNT_FILE on a
    time-skipping test server with the real workflow and templates, sends captured, and print the
    whole timeline: day, local time, step, channel, recipient, subject, approval gates."""
    from csrunner.services.preview import preview as run_preview
    from csrunner.services.preview import to_html, to_markdown

    settings = Settings()
    catalog, pid = _playbook(settings, playbook)
    try:
        account = load_account(account_file, load_team(settings.team_file), facts_schema(settings.facts_path))
        options.body = body
        result = asyncio.run(run_preview(catalog.bundle(pid), pid, account, options, settings.templates_dir))
    except DefinitionError as e:
        _fail(e.issues)
    _write(to_html(result) if fmt == "html" else to_markdown(result), out)
    click.echo(f"(previewed {len(result.rows)} timeline rows in {result.seconds:.1f} s)", err=True)


@click.command()
@click.argument("old", type=ACCOUNT)
@click.argument("new", type=ACCOUNT)
@click.argument("account_file", type=ACCOUNT)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file.")
@_preview_options
def diff(old, new, account_file, out, options):
    """What changes in the timeline between two versions (OLD.yaml, NEW.yaml) of a playbook, for
    the account in ACCOUNT_FILE: steps added, removed, or moved, and changed subjects."""
    from csrunner.services.preview import diff as diff_rows
    from csrunner.services.preview import diff_markdown, start_server
    from csrunner.services.preview import preview as run_preview

    settings = Settings()
    (a, pid), (b, _) = _playbook(settings, str(old)), _playbook(settings, str(new))
    account = load_account(account_file, load_team(settings.team_file), facts_schema(settings.facts_path))

    async def both():
        async with await start_server() as env:
            return (
                await run_preview(a.bundle(pid), pid, account, options, settings.templates_dir, env),
                await run_preview(b.bundle(pid), pid, account, options, settings.templates_dir, env),
            )

    before, after = asyncio.run(both())
    _write(diff_markdown(before, after, diff_rows(before, after)), out)


def _registry(path: Path | None, settings: Settings):
    from csrunner.services.versions import Registry

    return Registry(path or Path(settings.playbooks_dir) / ".published")


REGISTRY = click.option(
    "--registry",
    type=click.Path(file_okay=False, path_type=Path),
    help="Registry folder (default: PLAYBOOKS_DIR/.published).",
)


@click.command()
@click.argument("playbooks", nargs=-1)
@click.option("--as", "who", required=True, help="Who publishes: an ops person id from the team file.")
@REGISTRY
def publish(playbooks, who, registry):
    """Publish PLAYBOOKS (default: all) after validation and lint: records version, content hash,
    who and when. New runs start on the published version; runs in flight keep theirs. Ops only."""
    settings = Settings()
    _ops(settings, who, "publish playbooks")
    ok, problems = check_all(settings)
    if problems:
        _fail(["nothing published:"] + problems)
    reg, catalog = _registry(registry, settings), _catalog(settings)
    refused = False
    for pid in playbooks or sorted(catalog.definitions):
        if pid not in catalog.definitions:
            _fail([f"unknown playbook {pid!r} (known: {', '.join(sorted(catalog.definitions))})"])
        done, message = reg.publish(catalog.definitions[pid], who)
        refused |= not done and "content changed" in message
        click.echo(message)
    sys.exit(1 if refused else 0)


@click.command()
@click.argument("playbook")
@click.option("--as", "who", required=True, help="Who migrates: an ops person id from the team file.")
@click.option("--reason", default="", help="Why; recorded in each run's timeline.")
@click.option("--account", "accounts", multiple=True, help="Only runs of these account ids (repeatable).")
@click.option("--from-version", type=int, help="Only runs on this human version number.")
@click.option("--query", help="An extra visibility filter, e.g. \"CsmId = 'maria'\".")
@click.option("--run", "run_ids", multiple=True, help="Exact workflow ids instead of a visibility query.")
@click.option("--dry-run", is_flag=True, help="Only say what would happen to each run, and why.")
@REGISTRY
def migrate(playbook, who, reason, accounts, from_version, query, run_ids, dry_run, registry):
    """Move running runs of PLAYBOOK to its published version through the workflow's `migrate`
    update. Done steps stay done; a run continues at the step with the same id; a run whose
    current step is gone is refused with the reason and left as it was. Ops only."""
    from csrunner.services.temporal import connect
    from csrunner.services.versions import find_runs
    from csrunner.services.versions import migrate as run_migrate

    settings = Settings()
    _ops(settings, who, "migrate runs")
    reg = _registry(registry, settings)
    target = reg.live(_catalog(settings)).bundle(playbook)

    async def go():
        client = await connect(settings)
        ids = list(run_ids) or await find_runs(client, playbook, list(accounts), query)
        return await run_migrate(
            client, ids, target, who, reason, None if dry_run else reg, dry_run, from_version
        )

    plans = asyncio.run(go())
    for p in plans:
        click.echo(p.line() if dry_run else f"{'moved' if p.ok else 'refused'}  {p.workflow_id}: {p.why}")
    click.echo(f"{len(plans)} run(s){' (dry run: nothing changed)' if dry_run else ''}")


@click.command()
@click.argument("playbook", required=False)
@REGISTRY
def published(playbook, registry):
    """The registry's history: every publish and migration, who, when, from which version to which."""
    events = list(_registry(registry, Settings()).events(playbook))
    if not events:
        click.echo(
            f"nothing published yet{f' for {playbook}' if playbook else ''}: runs start on the playbook "
            "files as they are (`csr publish --as PERSON` records a version)"
        )
    for e in events:
        what = e.get("workflow_id") or e["playbook"]
        state = (
            ""
            if e["event"] == "publish"
            else (" applied" if e.get("applied") else f" refused: {e.get('why')}")
        )
        click.echo(
            f"{e['when']}  {e['event']:<8} {what}  {e['from'] or '-'} → {e['to']}  by {e['who']}{state}"
        )


COMMANDS = [lint, schema, preview, diff, publish, migrate, published]
