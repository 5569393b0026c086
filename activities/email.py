"""Email: render the template for the contact's locale, then send once through SendGrid
(or write it to the outbox when no API key is set)."""

from __future__ import annotations

import urllib.error
from datetime import datetime

from jinja2 import TemplateError
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, Mail, To
from temporalio import activity

from activities import metrics
from activities.errors import classify_http, permanent, transient
from activities.ledger import SentLedger
from activities.outbox import write_eml
from activities.render import Renderer
from csrunner.config.settings import Settings
from csrunner.domain.context import template_context
from csrunner.domain.messages import EmailRequest, EmailResult, RenderedEmail
from csrunner.domain.timefmt import zone_of


class EmailActivities:
    def __init__(self, settings: Settings, renderer: Renderer, ledger: SentLedger):
        self.settings, self.renderer, self.ledger = settings, renderer, ledger
        self._client = (
            SendGridAPIClient(settings.sendgrid_api_key, host=settings.sendgrid_api_host)
            if settings.sendgrid_api_key
            else None
        )

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
        if self._client is None:
            _, message_id = write_eml(
                self.settings.outbox_dir,
                req.key,
                (self.settings.mail_from_name, self.settings.mail_from),
                (req.contact.name, mail.to),
                mail.subject,
                mail.text,
                mail.html,
                datetime.now(zone_of(req.account.timezone)),
            )
            result = EmailResult(to=mail.to, subject=mail.subject, message_id=message_id, channel="outbox")
        else:
            result = EmailResult(
                to=mail.to,
                subject=mail.subject,
                channel="sendgrid",
                message_id=self._post(self._client, req.key, mail, req.contact.name),
            )
        self.ledger.put(req.key, result.channel, result.model_dump(mode="json"))
        metrics.message("outbox" if self._client is None else "email", "sent", req)
        return result

    def _post(self, client: SendGridAPIClient, key: str, mail: RenderedEmail, to_name: str) -> str:
        message = Mail(
            from_email=(self.settings.mail_from, self.settings.mail_from_name),
            to_emails=To(mail.to, to_name or None),
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
                e.status_code, f"SendGrid: {body[:500]}", (e.headers or {}).get("Retry-After")
            ) from None
        except (urllib.error.URLError, OSError) as e:
            raise transient(f"SendGrid unreachable: {e}") from None
        return response.headers.get("X-Message-Id", "") or key
