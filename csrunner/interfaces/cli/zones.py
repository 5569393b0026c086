"""Times on the command line, for whoever reads them: the `--as` person's zone (their
`timezone` in team.yaml), else this machine's local zone. Formatted by the domain's one rule."""

from __future__ import annotations

from datetime import datetime, tzinfo

import click

from csrunner.config.accounts import Team
from csrunner.domain.timefmt import as_datetime, human_time, zone_label, zone_of

AS_HELP = (
    "Show times in this team member's zone (their timezone in the team file, e.g. maria); "
    "default: this machine's local zone."
)


def reader_zone(team: Team, person_id: str | None) -> tzinfo | None:
    """The `--as` person's zone; None for the machine's (an unknown id is refused, not ignored)."""
    if not person_id:
        return None
    member = team.get(person_id)
    if member is None:
        raise click.BadParameter(f"unknown person id {person_id!r} (not in the team file)", param_hint="--as")
    return zone_of(member.timezone)


def when(value: datetime | str | None, zone: tzinfo | None) -> str:
    """A time for a table cell, without the zone (the column header names it); '-' for none."""
    if value is None:
        return "-"
    # astimezone() without a zone applies the machine's rules for that very moment (DST included)
    local = as_datetime(value).astimezone(zone) if zone else as_datetime(value).astimezone()
    return human_time(local, local.tzinfo or zone_of("UTC"), label=False)


def zone_name(zone: tzinfo | None) -> str:
    """What a table's time column says: "New York" for a person's zone, "local, CET" for the machine's."""
    now = datetime.now(zone).astimezone(zone) if zone else datetime.now().astimezone()
    return zone_label(zone, now) if zone else f"local, {zone_label(now.tzinfo or zone_of('UTC'), now)}"
