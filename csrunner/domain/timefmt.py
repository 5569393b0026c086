"""Times as people read them: "Wed 2 Dec 2026, 10:46 (New York)", in the reader's zone.

The one formatting rule for emails, Slack, task cards, the inbox and the CLI. Pure: it takes the
moment and the zone (never the clock), and names days and months itself rather than through
strftime, whose names follow the process locale.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from csrunner.domain.values import check_timezone

_DAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "es": ("lun", "mar", "mié", "jue", "vie", "sáb", "dom"),
}
_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "es": ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"),
}
_UTC_NAMES = {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/GMT", "GMT", "Universal", "Zulu"}


def zone_of(name: str) -> tzinfo:
    """A zone by IANA name; an empty name is UTC (people and accounts default to it)."""
    return ZoneInfo(check_timezone(name)) if name else UTC


def zone_label(zone: tzinfo, local: datetime) -> str:
    """What a reader calls the zone: the city of an IANA name ("New York"), UTC, or the
    abbreviation of a fixed offset (a machine's local zone)."""
    key = getattr(zone, "key", None)
    if zone is UTC or key in _UTC_NAMES:
        return "UTC"
    if key:
        return key.rsplit("/", 1)[-1].replace("_", " ")
    return local.tzname() or local.strftime("%z")


def as_datetime(value: datetime | str) -> datetime:
    """A datetime, or its ISO text (templates get times as JSON); naive times are UTC."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def human_time(when: datetime | str, zone: str | tzinfo, locale: str = "en", label: bool = True) -> str:
    """`when` in `zone` (an IANA name or a tzinfo), to the minute, with the zone named:
    "Wed 2 Dec 2026, 10:46 (New York)"; in Spanish "mié 2 dic 2026, 10:46 (Madrid)"."""
    tz = zone_of(zone) if isinstance(zone, str) else zone
    local = as_datetime(when).astimezone(tz)
    names = locale if locale in _DAYS else "en"
    text = (
        f"{_DAYS[names][local.weekday()]} {local.day} {_MONTHS[names][local.month - 1]} {local.year}, "
        f"{local:%H:%M}"
    )
    return f"{text} ({zone_label(tz, local)})" if label else text
