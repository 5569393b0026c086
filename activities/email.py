"""Email: render the template for the contact's locale, then send once through SendGrid
(or write it to the outbox when no API key is set)."""

from __future__ import annotations

import socket
import time
import urllib.error
from datetime import UTC, datetime

from jinja2 import TemplateError
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, Mail, To
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import metrics
from activities.errors import classify_http, delivery_unknown, permanent, transient
from activities.outbox import write_eml
from activities.render import Renderer
from activities.store import Ledger
from csrunner.config.settings import Settings
from csrunner.domain.context import template_context
from csrunner.domain.messages import EmailRequest, EmailResult, RenderedEmail, ResendRequest, UnsureEmail
from csrunner.domain.timefmt import zone_of

#: Seconds to wait for SendGrid's answer; after that the send's fate is unknown.
SENDGRID_TIMEOUT = 10


class EmailActivities:
    def __init__(self, settings: Settings, renderer: Renderer, ledger: Ledger):
        self.settings, self.renderer, self.ledger = settings, renderer, ledger
        self._client = (
            SendGridAPIClient(settings.sendgrid_api_key, host=settings.sendgrid_api_host)
            if settings.sendgrid_api_key
            else None
        )
        if self._client is not None:  # inside the activity's 15 s, so it can record "unknown" itself
            self._client.client.timeout = SENDGRID_TIMEOUT

    @activity.defn
    def render_email(self, req: EmailRequest) -> RenderedEmail:
        ctx = template_context(req.account, req.contact, req.run, req.facts)
        try:
            parts = self.renderer.parts(req.template, req.contact.locale, ctx, req.edits)
            out = self.renderer.render_blocks(
                req.template, req.contact.locale, ctx, ("subject", "text", "html"), req.edits, parts
            )
        except TemplateError as e:  # a broken template will not fix itself on retry
            raise permanent(f"template {req.template!r}: {e}") from None
        subject = " ".join(out["subject"].split())
        return RenderedEmail(
            to=req.contact.email,
            subject=subject,
            text=out["text"],
            html=out["html"],
            parts={"subject": subject, **parts},
        )

    @activity.defn
    @metrics.delivery("email")
    def send_email(self, req: EmailRequest) -> EmailResult:
        done = self.ledger.get(req.key)
        if done:
            metrics.message("email", "duplicate", req)
            return EmailResult(**{**done, "duplicate": True})
        mail = self.render_email(req)
        if self._client is None:  # a file per key: writing it again replaces it
            when = datetime.now(zone_of(req.account.timezone))
            result = self._outbox(
                req.key, req.contact.name, mail.to, mail.subject, mail.text, mail.html, when
            )
            self.ledger.put(req.key, result.channel, result.model_dump(mode="json"))
            metrics.message("outbox", "sent", req)
            return result
        unsure = UnsureEmail(
            key=req.key,
            to=mail.to,
            to_name=req.contact.name,
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
        )
        result = self._deliver(self._client, req.key, unsure)
        metrics.message("email", "duplicate" if result.duplicate else "sent", req)
        return result

    @activity.defn
    @metrics.delivery("email")
    def resend_email(self, req: ResendRequest) -> EmailResult:
        """A CSM's Resend of an email whose fate was unknown: its own key, so the original's
        unknown attempt does not stop it, and a retry of the resend never sends it twice."""
        e = req.email
        if self._client is None:
            result = self._outbox(req.key, e.to_name, e.to, e.subject, e.text, e.html, datetime.now(UTC))
            self.ledger.put(req.key, result.channel, result.model_dump(mode="json"))
            metrics.message("outbox", "sent", req)
            return result
        result = self._deliver(self._client, req.key, e)
        metrics.message("email", "duplicate" if result.duplicate else "sent", req)
        return result

    def _outbox(
        self, key: str, to_name: str, to: str, subject: str, text: str, html: str, when: datetime
    ) -> EmailResult:
        sender = (self.settings.mail_from_name, self.settings.mail_from)
        _, message_id = write_eml(
            self.settings.outbox_dir, key, sender, (to_name, to), subject, text, html, when
        )
        return EmailResult(to=to, subject=subject, message_id=message_id, channel="outbox")

    def _deliver(self, client: SendGridAPIClient, key: str, mail: UnsureEmail) -> EmailResult:
        """The send protocol (docs/delivery.md): the attempt first, then SendGrid, then the outcome."""
        attempt = self.ledger.begin(key, "sendgrid", f"to {mail.to}: {mail.subject}"[:300])
        if attempt.state == "sent":
            return EmailResult(**{**(attempt.result or {}), "duplicate": True})
        if attempt.state == "wait":
            raise transient(f"SendGrid's rate limit: {key} waits {attempt.wait:.0f} s more", attempt.wait)
        if attempt.state == "in_flight":
            raise transient(f"{key} is being sent by {attempt.worker or 'another worker'}; retry later", 2)
        if attempt.state == "unknown":
            raise delivery_unknown(
                f"an earlier attempt at {key} may have reached SendGrid", mail.model_copy(update={"key": key})
            )
        try:
            message_id = self._post(client, key, mail)
        except ApplicationError as e:  # SendGrid answered, or the request never left: not sent
            delay = e.next_retry_delay.total_seconds() if e.next_retry_delay else 0
            self.ledger.fail(key, e.message, time.time() + delay if delay else None)
            raise
        except OSError as e:  # it left and no answer came back: maybe sent
            self.ledger.lost(key, str(e))
            raise delivery_unknown(
                f"SendGrid did not answer for {key}: {e}", mail.model_copy(update={"key": key})
            ) from None
        result = EmailResult(to=mail.to, subject=mail.subject, channel="sendgrid", message_id=message_id)
        self.ledger.finish(key, result.model_dump(mode="json"))
        return result

    def _post(self, client: SendGridAPIClient, key: str, mail: UnsureEmail) -> str:
        message = Mail(
            from_email=(self.settings.mail_from, self.settings.mail_from_name),
            to_emails=To(mail.to, mail.to_name or None),
            subject=mail.subject,
            plain_text_content=mail.text,
            html_content=mail.html,
        )
        message.custom_arg = CustomArg("idempotency_key", key)
        try:
            response = client.send(message)
        except HTTPError as e:
            body = e.body.decode(errors="replace") if isinstance(e.body, bytes) else str(e.body)
            raise classify_http(
                e.status_code, f"SendGrid: {body[:500]}", retry_after(e.headers or {}, time.time())
            ) from None
        except (urllib.error.URLError, OSError) as e:
            if not_sent(e):
                raise transient(f"SendGrid unreachable: {e}") from None
            raise
        return response.headers.get("X-Message-Id", "") or key


def not_sent(e: OSError) -> bool:
    """Errors raised before a byte of the request left: refused connection, unknown host."""
    reason = e.reason if isinstance(e, urllib.error.URLError) else e
    return isinstance(reason, (ConnectionRefusedError, socket.gaierror))


def retry_after(headers, now: float) -> str | None:
    """Seconds to wait before the next attempt: Retry-After when given, else what SendGrid's 429
    says in X-RateLimit-Reset (a Unix time), so a rate-limited send waits for the window to reopen."""
    if headers.get("Retry-After"):
        return str(headers.get("Retry-After"))
    reset = headers.get("X-RateLimit-Reset")
    try:
        return f"{max(1.0, float(reset) - now):.0f}" if reset else None
    except ValueError:
        return None
