"""SendGrid's 429 says when its window reopens (X-RateLimit-Reset, a Unix time): the retry waits
for it instead of the default backoff; a Retry-After, when given, wins."""

from __future__ import annotations

from datetime import timedelta

from activities.email import retry_after
from activities.errors import classify_http

NOW = 1_800_000_000.0


def test_the_reset_time_sets_the_next_attempt():
    headers = {
        "X-RateLimit-Limit": "600",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(NOW) + 42),
    }
    assert retry_after(headers, NOW) == "42"
    assert classify_http(429, "too many requests", retry_after(headers, NOW)).next_retry_delay == timedelta(
        seconds=42
    )


def test_retry_after_wins_and_a_past_or_broken_reset_waits_one_second_or_backs_off():
    assert retry_after({"Retry-After": "7", "X-RateLimit-Reset": str(int(NOW) + 42)}, NOW) == "7"
    assert retry_after({"X-RateLimit-Reset": str(int(NOW) - 5)}, NOW) == "1"
    assert retry_after({"X-RateLimit-Reset": "soon"}, NOW) is None
    assert retry_after({}, NOW) is None
