"""The service's own settings (env), kept apart from the worker's `Settings`."""
from __future__ import annotations

import os
from dataclasses import dataclass, field


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def parse_tokens(text: str) -> dict[str, str]:
    """API_TOKENS="tok1:maria,tok2:carlos" → {token: person id}. Blank entries are ignored."""
    out: dict[str, str] = {}
    for item in text.replace("\n", ",").split(","):
        token, sep, person = item.strip().partition(":")
        if sep and token.strip() and person.strip():
            out[token.strip()] = person.strip()
    return out


def _tokens() -> dict[str, str]:
    tokens = parse_tokens(_env("API_TOKENS"))
    path = _env("API_TOKENS_FILE")
    if path and os.path.isfile(path):  # one "token:person" per line; lets ops rotate without env
        with open(path, encoding="utf-8") as f:
            tokens.update(parse_tokens(f.read()))
    return tokens


@dataclass(frozen=True)
class ServiceConfig:
    hubspot_api_url: str = field(default_factory=lambda: _env("HUBSPOT_API_URL", "https://api.hubapi.com"))
    hubspot_access_token: str = field(default_factory=lambda: _env("HUBSPOT_ACCESS_TOKEN"))
    hubspot_client_secret: str = field(default_factory=lambda: _env("HUBSPOT_CLIENT_SECRET"))
    #: Dealstage ids that mean closed-won (every pipeline has its own).
    hubspot_closed_won_stages: tuple[str, ...] = field(default_factory=lambda: tuple(
        s.strip() for s in _env("HUBSPOT_CLOSED_WON_STAGES", "closedwon").split(",") if s.strip()))
    #: The public URL HubSpot calls, when a proxy changes what the service sees (signatures cover it).
    hubspot_webhook_url: str = field(default_factory=lambda: _env("HUBSPOT_WEBHOOK_URL"))
    hubspot_role_property: str = field(default_factory=lambda: _env("HUBSPOT_CONTACT_ROLE_PROPERTY", "hs_buying_role"))
    hubspot_timezone_property: str = field(default_factory=lambda: _env("HUBSPOT_TIMEZONE_PROPERTY", "timezone"))
    hubspot_locale_property: str = field(default_factory=lambda: _env("HUBSPOT_LOCALE_PROPERTY", "hs_language"))
    #: Person id used as CSM when the deal owner is not in the team file (empty: refuse the deal).
    default_csm: str = field(default_factory=lambda: _env("DEFAULT_CSM"))
    deal_webhook_token: str = field(default_factory=lambda: _env("DEAL_WEBHOOK_TOKEN"))
    #: Token for the health-score feed and the survey tool (ops bearer tokens work too).
    feed_token: str = field(default_factory=lambda: _env("FEED_TOKEN"))
    slack_signing_secret: str = field(default_factory=lambda: _env("SLACK_SIGNING_SECRET"))
    api_tokens: dict[str, str] = field(default_factory=_tokens)
    #: Longest a request waits on Temporal before answering 503 (the sender retries).
    temporal_timeout: float = field(default_factory=lambda: float(_env("TEMPORAL_TIMEOUT", "8")))
    #: Secure cookies for the inbox (set when served over https).
    secure_cookies: bool = field(default_factory=lambda: _env("INBOX_SECURE_COOKIES", "") in ("1", "true"))
