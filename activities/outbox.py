"""The local outbox: files a person can open (.eml for mail, .md for Slack and tasks),
used when no SendGrid key / Slack token is configured."""

from __future__ import annotations

import re
from datetime import datetime
from email.charset import BASE64, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import cast

UTF8 = Charset("utf-8")
UTF8.header_encoding = BASE64  # fixed: choosing the shortest encoding costs more than the mail


def file_name(key: str, suffix: str) -> str:
    """The outbox file for an idempotency key: one file per message, so a resend overwrites."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key) + suffix


def write_eml(
    folder: Path,
    key: str,
    sender: tuple[str, str],
    to: tuple[str, str],
    subject: str,
    text: str,
    html: str,
    date: datetime,
) -> tuple[Path, str]:
    """`sender` and `to` are (display name, address); `date` is when it is sent, in the
    recipient's zone (a mail client shows it as written)."""
    # compat32 MIME classes: a valid multipart/alternative message, several times faster to
    # build than EmailMessage's header registry (this is on every send in outbox mode).
    msg = MIMEMultipart("alternative")
    msg["From"] = formataddr(sender, charset=UTF8)
    msg["To"] = formataddr(to, charset=UTF8)
    msg["Date"] = format_datetime(date)
    # compat32 folds a Header object itself; typeshed types header values as str only
    msg["Subject"] = cast(str, Header(subject, UTF8))
    msg["Message-ID"] = make_msgid(domain="outbox.local")
    msg["X-Idempotency-Key"] = key
    msg.attach(MIMEText(text, "plain", "utf-8"))
    msg.attach(MIMEText(html, "html", "utf-8"))
    path = folder / "email" / file_name(key, ".eml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msg.as_bytes())
    return path, msg["Message-ID"]


def write_markdown(folder: Path, kind: str, key: str, body: str) -> Path:
    path = folder / kind / file_name(key, ".md")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path
