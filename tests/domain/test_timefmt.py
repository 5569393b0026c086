"""The one way times are written for people: the reader's zone, to the minute, the zone named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from csrunner.domain.timefmt import human_time

DUE = datetime(2026, 12, 2, 15, 46, 31, 874010, tzinfo=UTC)


@pytest.mark.parametrize(
    "when,zone,locale,expected",
    [
        (DUE, "America/New_York", "en", "Wed 2 Dec 2026, 10:46 (New York)"),
        (DUE, "Europe/Madrid", "en", "Wed 2 Dec 2026, 16:46 (Madrid)"),
        (DUE, "Europe/Madrid", "es", "mié 2 dic 2026, 16:46 (Madrid)"),
        (DUE, "UTC", "en", "Wed 2 Dec 2026, 15:46 (UTC)"),
        (DUE, "", "en", "Wed 2 Dec 2026, 15:46 (UTC)"),  # no zone named: UTC
        (DUE, "Asia/Kolkata", "en", "Wed 2 Dec 2026, 21:16 (Kolkata)"),
        (DUE, "America/Argentina/Buenos_Aires", "en", "Wed 2 Dec 2026, 12:46 (Buenos Aires)"),
        # summer time: New York is four hours behind in July, and the day changes at midnight
        (
            datetime(2026, 7, 1, 2, 30, tzinfo=UTC),
            "America/New_York",
            "en",
            "Tue 30 Jun 2026, 22:30 (New York)",
        ),
        # the ISO text templates get, and a naive time (UTC)
        ("2026-12-02T15:46:31.874010+00:00", "America/New_York", "en", "Wed 2 Dec 2026, 10:46 (New York)"),
        ("2026-12-02T15:46:00", "America/New_York", "en", "Wed 2 Dec 2026, 10:46 (New York)"),
        # a machine's fixed offset is named by its abbreviation
        (DUE, timezone(timedelta(hours=-3), "ART"), "en", "Wed 2 Dec 2026, 12:46 (ART)"),
    ],
)
def test_human_time(when, zone, locale, expected):
    assert human_time(when, zone, locale) == expected


def test_without_the_zone_label_for_a_column_that_names_it():
    assert human_time(DUE, "America/New_York", label=False) == "Wed 2 Dec 2026, 10:46"


def test_an_unknown_zone_is_refused_not_shown_as_utc():
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        human_time(DUE, "Mars/Olympus")
