"""`csr show` for a person: the account and people by name, times in the `--as` person's zone
(else the machine's), on the time-skipping server. The CLI runs in a thread (its own loop)."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import journey_support
from click.testing import CliRunner
from support import advance_to, at_local, settings_for, start, view

from csrunner.interfaces.cli.main import main
from csrunner.services import journeys
from worker import build_worker


def csr(env, settings, *args: str):
    environ = {
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "DATA_DIR": str(settings.data_dir),
        "COLUMNS": "200",
    }
    return asyncio.to_thread(CliRunner().invoke, main, list(args), env=environ, catch_exceptions=False)


async def test_show_names_people_and_gives_times_in_the_readers_zone(env, tmp_path):
    settings = settings_for(tmp_path)
    async with build_worker(env.client, settings):
        handle = await start(env, settings)
        t0 = (await view(handle)).started_at
        await advance_to(env, at_local(t0, 1, "08:00"))
        v = await view(handle)
        as_tom = await csr(env, settings, "show", handle.id, "--as", "tom")  # Tom is in New York
        as_maria = await csr(env, settings, "show", handle.id, "--as", "maria")  # María in Madrid
        machine = await csr(env, settings, "show", handle.id)

    kickoff = next(p for p in v.pending if p.step_id == "day0-kickoff")
    assert kickoff.due_at is not None
    assert as_tom.exit_code == 0, as_tom.output
    assert as_tom.output.splitlines()[0].startswith(f"{handle.id}  Acme Retail (acme)  onboarding v")
    assert "due (New York)" in as_tom.output and "when (New York)" in as_tom.output
    for out, zone in ((as_tom, "America/New_York"), (as_maria, "Europe/Madrid")):
        due = kickoff.due_at.astimezone(ZoneInfo(zone))
        row = next(line for line in out.output.splitlines() if "day0-kickoff" in line)
        assert "María García (maria)" in row  # the assignee by name
        assert f"{due.day} {due:%b %Y}, {due:%H:%M}" in row, row
    created = next(r for r in v.timeline if r.step_id == "day0-welcome")
    sent = created.at.astimezone(ZoneInfo("Europe/Madrid"))
    assert f"{sent.day} {sent:%b %Y}, {sent:%H:%M}" in as_maria.output
    assert "UTC)" not in as_maria.output and ".0000" not in as_maria.output
    assert machine.exit_code == 0 and "due (local, " in machine.output  # no --as: this machine's zone


def test_an_unknown_reader_is_refused_before_connecting():
    result = CliRunner().invoke(
        main, ["show", "any:run", "--as", "bob"], env={"TEMPORAL_ADDRESS": "127.0.0.1:1"}
    )
    assert result.exit_code == 2
    assert "unknown person id 'bob' (not in the team file)" in result.output


def test_help_says_whose_zone_the_times_are_in():
    for command in ("show", "journey"):
        out = CliRunner().invoke(main, [command, "--help"], terminal_width=200).output
        assert "--as PERSON" in out and "default: this machine's local zone" in " ".join(out.split())


async def test_journey_names_the_csm_and_gives_times_in_the_readers_zone(env, tmp_path):
    settings = journey_support.settings_for(tmp_path)
    acct = journey_support.account("tz-journey-1")
    async with journey_support.journey_worker(env.client, settings, acct.id):
        await journeys.deal_closed(env.client, settings, acct, "deal-tz-1")
        await env.sleep(60)
        v = await journeys.journey_view(env.client, acct.id)
        out = await csr(env, settings, "journey", acct.id, "--as", "tom")
    assert out.exit_code == 0, out.output
    assert "Acme Retail  CSM María García  onboarding" in out.output.splitlines()[0]
    assert "started (New York)" in out.output and "when (New York)" in out.output
    first = v.timeline[0].at.astimezone(ZoneInfo("America/New_York"))
    assert f"{first.day} {first:%b %Y}, {first:%H:%M}" in out.output
