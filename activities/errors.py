"""Transient or permanent: the one decision every delivery makes about a failure."""

from __future__ import annotations

from datetime import timedelta
from typing import Optional

from temporalio.exceptions import ApplicationError

from csrunner.domain.errors import DELIVERY_UNKNOWN, PERMANENT, TRANSIENT
from csrunner.domain.messages import UnsureEmail


def permanent(message: str, status: Optional[int] = None) -> ApplicationError:
    """No retry: the workflow turns it into a task for the CSM and goes on."""
    return ApplicationError(message, {"status": status}, type=PERMANENT, non_retryable=True)


def transient(message: str, retry_after: Optional[float] = None) -> ApplicationError:
    """Retried with backoff; a Retry-After from the provider sets the next delay exactly."""
    delay = timedelta(seconds=retry_after) if retry_after else None
    return ApplicationError(message, type=TRANSIENT, next_retry_delay=delay)


def classify_http(status: int, message: str, retry_after: Optional[str] = None) -> ApplicationError:
    if status == 429 or status >= 500 or status == 408:
        seconds = None
        if retry_after:
            try:
                seconds = max(1.0, float(retry_after))
            except ValueError:
                seconds = None
        return transient(f"{status}: {message}", seconds)
    return permanent(f"{status}: {message}", status)


def delivery_unknown(message: str, email: UnsureEmail) -> ApplicationError:
    """No retry and no resend: the workflow gives the CSM the message to check (and resend)."""
    return ApplicationError(message, email, type=DELIVERY_UNKNOWN, non_retryable=True)
