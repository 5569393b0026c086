"""What a log line looks like: readable text (the default) or one JSON object per line. Both carry
the ids an event knows (account, workflow and run, step, request) and neither shows an email
address: the SDK's own lines may quote an error that names one, and logs are not the place for it.
The JSON fields are chosen here (never a record's every attribute): no names or message bodies."""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime

#: The id of the HTTP request being served (set by the web app's middleware).
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
IDS = ("account_id", "workflow_id", "run_id", "step_id", "request_id", "activity_type", "attempt")


def scrub(text: str) -> str:
    return _EMAIL.sub("<email>", text)


def record_ids(record: logging.LogRecord) -> dict[str, str]:
    """The ids of a record: `extra=` keys, the SDK's `temporal_activity` / `temporal_workflow`
    extras (activity.logger, workflow.logger), and the current request's id."""
    found: dict[str, object] = {}
    sdk = getattr(record, "temporal_activity", None) or getattr(record, "temporal_workflow", None)
    if isinstance(sdk, dict):
        found["workflow_id"] = sdk.get("workflow_id")
        found["run_id"] = sdk.get("workflow_run_id") or sdk.get("run_id")
        found["activity_type"] = sdk.get("activity_type")
        found["attempt"] = sdk.get("attempt")
    for key in ("account_id", "workflow_id", "run_id", "step_id"):
        if getattr(record, key, None):
            found[key] = getattr(record, key)
    found["request_id"] = getattr(record, "request_id", None) or REQUEST_ID.get()
    return {k: str(found[k]) for k in IDS if found.get(k) not in (None, "")}


def _time(record: logging.LogRecord) -> str:
    return (
        datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            **record_ids(record),
        }
        if record.exc_info:
            line["error"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`2026-12-01T20:25:34.120Z INFO csrunner.x: message [account_id=acme step_id=day0]`."""

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{k}={v}" for k, v in record_ids(record).items())
        line = f"{_time(record)} {record.levelname} {record.name}: {record.getMessage()}"
        line = scrub(line + (f" [{ids}]" if ids else ""))
        if record.exc_info:
            line += "\n" + scrub(self.formatException(record.exc_info))
        return line
