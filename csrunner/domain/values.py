"""The value rules every layer shares, defined once: account ids, NPS and health scores, time zones.

Pydantic types for models, and plain `check_*` functions (raising ValueError with a sentence a
person can act on) for the places that validate loose input by hand (CLI, CSV rows).
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field

ACCOUNT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_ACCOUNT_ID = re.compile(ACCOUNT_ID_PATTERN)
NPS_MIN, NPS_MAX = 0, 10
HEALTH_MIN, HEALTH_MAX = 0, 100


def check_account_id(account_id: Any) -> str:
    if not isinstance(account_id, str) or not _ACCOUNT_ID.match(account_id):
        raise ValueError(
            f"account_id must be 1-100 letters, digits, '.', '_' or '-', starting with a "
            f"letter or digit; got {account_id!r}"
        )
    return account_id


def check_nps(score: Any) -> int:
    """Seed 003's 0-10 scale; a bool or a string is not a number here."""
    if isinstance(score, bool) or not isinstance(score, int) or not NPS_MIN <= score <= NPS_MAX:
        raise ValueError(f"score must be a whole number from 0 to 10 (NPS), got {score!r}")
    return score


def check_health_score(score: Any) -> float:
    if (
        isinstance(score, bool)
        or not isinstance(score, (int, float))
        or not HEALTH_MIN <= score <= HEALTH_MAX
    ):
        raise ValueError(f"score must be a number from 0 to 100, got {score!r}")
    return float(score)


def check_timezone(name: Any) -> str:
    """An IANA zone name, refused everywhere when unknown (never a silent UTC)."""
    try:
        if not isinstance(name, str) or not name:
            raise ValueError
        ZoneInfo(name)  # reads the packaged tz database: static data, not I/O the domain depends on
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Madrid)") from None
    return name


AccountId = Annotated[str, Field(pattern=ACCOUNT_ID_PATTERN, max_length=100)]
NpsScore = Annotated[int, Field(strict=True, ge=NPS_MIN, le=NPS_MAX)]
HealthScore = Annotated[float, Field(ge=HEALTH_MIN, le=HEALTH_MAX)]
TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
