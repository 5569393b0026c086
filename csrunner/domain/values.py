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
#: Seed 004 "Signals de Expansión": high usage, consistent positive ROI, team growth, new business
#: initiatives, budget approved for next quarter.
EXPANSION_SIGNALS = ("high_usage", "positive_roi", "team_growth", "new_initiative", "budget_approved")
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


def check_expansion_signal(signal: str) -> str:
    if signal not in EXPANSION_SIGNALS:
        raise ValueError(f"signal must be one of {', '.join(EXPANSION_SIGNALS)} (seed 004); got {signal!r}")
    return signal


def check_timezone(name: Any) -> str:
    """An IANA zone name, refused everywhere when unknown (never a silent UTC)."""
    try:
        if not isinstance(name, str) or not name:
            raise ValueError
        ZoneInfo(name)  # reads the packaged tz database: static data, not I/O the domain depends on
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Madrid)") from None
    return name


def check_https_url(url: Any) -> str:
    """Links we put in messages: empty, or https with no spaces or control characters (never
    javascript:, data: or plain http)."""
    if not isinstance(url, str):
        raise ValueError(f"must be an https:// URL, got {type(url).__name__}")
    if url and not _HTTPS_URL.match(url):
        raise ValueError(f"must be an https:// URL without spaces, got {url[:80]!r}")
    return url


_HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(?::\d{1,5})?(?:[/?#][^\s\x00-\x1f\x7f<>\"]*)?$")

#: Lengths every string and list of an account or message keeps within (history size, Slack,
#: email headers): names and ids are short, free text is a paragraph, lists are a page.
SHORT, TEXT, LONG_TEXT, ITEMS = 200, 2000, 10_000, 100

AccountId = Annotated[str, Field(pattern=ACCOUNT_ID_PATTERN, max_length=100)]
Short = Annotated[str, Field(max_length=SHORT)]
Text = Annotated[str, Field(max_length=TEXT)]
LongText = Annotated[str, Field(max_length=LONG_TEXT)]
HttpsUrl = Annotated[str, Field(max_length=TEXT), AfterValidator(check_https_url)]
NpsScore = Annotated[int, Field(strict=True, ge=NPS_MIN, le=NPS_MAX)]
HealthScore = Annotated[float, Field(ge=HEALTH_MIN, le=HEALTH_MAX)]
TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
