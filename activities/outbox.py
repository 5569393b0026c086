"""The local outbox: files a person can open (.eml for mail, .md for Slack and tasks),
used when no SendGrid key / Slack token is configured."""
from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path


def _name(key: str, suffix: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key) + suffix


def write_eml(folder: Path, key: str, sender: tuple[str, str], to: str, subject: str,
              text: str, html: str) -> tuple[Path, str]:
    msg = EmailMessage()
    msg["From"] = formataddr(sender)
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="outbox.local")
    msg["X-Idempotency-Key"] = key
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    path = folder / "email" / _name(key, ".eml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(msg))
    return path, msg["Message-ID"]


def write_markdown(folder: Path, kind: str, key: str, body: str) -> Path:
    path = folder / kind / _name(key, ".md")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path
