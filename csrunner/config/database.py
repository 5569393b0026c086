"""DATABASE_URL: checked in one place (the worker's startup and the ledger both call it)."""

from __future__ import annotations

from urllib.parse import urlsplit

from psycopg import ProgrammingError
from psycopg.conninfo import conninfo_to_dict

FORMAT = "postgresql://USER:PASSWORD@HOST:5432/DBNAME"


def check_database_url(url: str) -> str | None:
    """None when the URL is usable (empty: the embedded SQLite ledger), else one line saying what
    is wrong. Never repeats the URL: it may hold a password."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        return f"DATABASE_URL must be a PostgreSQL URL, {FORMAT} (got scheme {parts.scheme or 'none'!r})"
    try:
        parts.port  # noqa: B018 - reading it validates it
    except ValueError:
        return f"DATABASE_URL: the port is not a number from 1 to 65535 ({FORMAT})"
    if not parts.hostname and "host=" not in parts.query:
        return f"DATABASE_URL: no host ({FORMAT})"
    if not parts.path.strip("/"):
        return f"DATABASE_URL: no database name ({FORMAT})"
    try:
        conninfo_to_dict(url)
    except ProgrammingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "unreadable"
        return f"DATABASE_URL: {first} ({FORMAT})"
    return None


def where(url: str) -> str:
    """host:port/dbname of a URL, without user or password (for messages)."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
