"""HubSpot: the webhook v3 signature, and the CRM v3 reads that turn a closed-won deal into
our `Account` (company → account, contacts with roles, deal owner → CSM by email)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from csrunner.config.accounts import Team, resolve_people
from csrunner.domain.messages import Account
from csrunner.domain.values import check_timezone

log = logging.getLogger(__name__)

MAX_AGE_MS = 5 * 60 * 1000
# HubSpot decodes these in the URI before signing (developers.hubspot.com, "Validating requests").
_URI_DECODE = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    for enc, ch in _URI_DECODE.items():
        uri = uri.replace(enc, ch).replace(enc.lower(), ch)
    source = method.upper().encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


def verify_v3(
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now_ms: int | None = None,
) -> str | None:
    """None when valid, else why not (for the 401 body)."""
    if not secret:
        return "HubSpot webhooks are disabled: HUBSPOT_CLIENT_SECRET is not set"
    if not signature or not timestamp:
        return "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp"
    if not timestamp.isdigit():
        return "X-HubSpot-Request-Timestamp must be milliseconds since the epoch"
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now_ms - int(timestamp)) > MAX_AGE_MS:
        return "stale request: X-HubSpot-Request-Timestamp is more than 5 minutes away from now"
    expected = sign_v3(secret, method, uri, body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        return "bad signature (X-HubSpot-Signature-v3)"
    return None


class MappingError(ValueError):
    """The deal cannot become an account (nothing was started); the message says why."""


class CRMError(Exception):
    """HubSpot could not be read (after retries); the webhook answers 5xx so HubSpot retries."""


class HubSpotCRM:
    """CRM v3 reads with retries on 429 / 5xx / network errors, honouring Retry-After."""

    def __init__(
        self,
        base_url: str,
        token: str,
        attempts: int = 4,
        max_wait: float = 2.0,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ):
        self.attempts, self.max_wait = attempts, max_wait
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {token}"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(self, path: str, **params) -> dict | None:
        """The JSON object, or None on 404."""
        delay = 0.2
        for attempt in range(1, self.attempts + 1):
            try:
                r = await self._http.get(path, params={k: v for k, v in params.items() if v})
            except httpx.TransportError as e:
                if attempt == self.attempts:
                    raise CRMError(f"HubSpot unreachable: {e}") from None
            else:
                if r.status_code == 404:
                    return None
                if r.status_code < 300:
                    return r.json()
                if r.status_code != 429 and r.status_code < 500:
                    raise CRMError(f"HubSpot answered {r.status_code} on {path}: {r.text[:300]}")
                if attempt == self.attempts:
                    raise CRMError(
                        f"HubSpot still answers {r.status_code} on {path} after {attempt} attempts"
                    )
                delay = _retry_after(r.headers.get("Retry-After"), delay)
            await asyncio.sleep(min(delay, self.max_wait))
            delay *= 2
        raise AssertionError("unreachable")


def _retry_after(header: str | None, default: float) -> float:
    try:
        return max(0.0, float(header)) if header else default
    except ValueError:
        return default


def _ids(obj: dict, kind: str) -> list[str]:
    return [str(r["id"]) for r in (obj.get("associations") or {}).get(kind, {}).get("results", [])]


def _zone(value: str | None) -> str | None:
    """HubSpot writes zones as 'America/New_York' or 'america_slash_new_york'; None if unknown."""
    name = (value or "").replace("_slash_", "/")[:100]
    if name == name.lower():
        name = "/".join("_".join(w.capitalize() for w in part.split("_")) for part in name.split("/"))
    try:
        return check_timezone(name)
    except ValueError:
        return None


def path(*parts: object) -> str:
    """A CRM v3 path with every id percent-encoded: an objectId of '../../x?y=1' stays one segment."""
    return "/".join(quote(str(p), safe="") if i else str(p) for i, p in enumerate(parts))


def _locale(value: str | None) -> str | None:
    code = (value or "").lower()[:2]
    return code if code in ("en", "es") else None


def _role(value: str | None) -> str:
    """hs_buying_role is multi-select ("CHAMPION;DECISION_MAKER"): the first value, snake case."""
    first = (value or "").split(";")[0].strip()
    return first.lower().replace(" ", "_")[:100] or "contact"


def _closed_at(deal: dict) -> datetime | None:
    raw = (deal.get("properties") or {}).get("closedate")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None
    except ValueError:
        return None


async def account_for_deal(
    crm: HubSpotCRM,
    deal_id: str,
    team: Team,
    *,
    role_property: str,
    timezone_property: str,
    locale_property: str,
    default_csm: str = "",
    default_timezone: str = "UTC",
    notes: list[str] | None = None,
) -> tuple[Account, datetime | None]:
    """The account of a closed-won deal. What had to be assumed is appended to `notes`."""
    deal = await crm.get(
        path("/crm/v3/objects/deals", deal_id),
        associations="companies,contacts",
        properties="dealname,dealstage,closedate,hubspot_owner_id,pipeline",
    )
    if deal is None:
        raise MappingError(f"deal {deal_id}: not found in HubSpot")
    props = deal.get("properties") or {}
    company_ids = _ids(deal, "companies")

    async def company_of() -> dict[str, Any]:
        if not company_ids:
            return {}
        return (
            await crm.get(
                path("/crm/v3/objects/companies", company_ids[0]),
                associations="contacts",
                properties=f"name,domain,{timezone_property},{locale_property}",
            )
            or {}
        )

    # The company and the owner are independent reads: fetch them together.
    company, csm = await asyncio.gather(
        company_of(), _csm(crm, deal_id, props.get("hubspot_owner_id"), team, default_csm)
    )
    cprops = company.get("properties") or {}
    contact_ids = list(dict.fromkeys(_ids(deal, "contacts") + _ids(company, "contacts")))[:25]
    fetched = await asyncio.gather(
        *(
            crm.get(
                path("/crm/v3/objects/contacts", cid),
                properties=f"email,firstname,lastname,hs_language,{role_property}",
            )
            for cid in contact_ids
        )
    )
    contacts = []
    for c in filter(None, fetched):
        p = c.get("properties") or {}
        if not p.get("email"):
            continue  # nobody to write to
        name = " ".join(filter(None, (p.get("firstname"), p.get("lastname")))) or p["email"]
        contacts.append(
            {
                "name": name[:200],
                "email": p["email"],
                "role": _role(p.get(role_property)),
                "locale": _locale(p.get("hs_language")) or _locale(cprops.get(locale_property)) or "en",
            }
        )
    if not contacts:
        raise MappingError(f"deal {deal_id}: no associated contact with an email address")
    if not any(c["role"] == "champion" for c in contacts):
        contacts[0]["role"] = "champion"  # onboarding writes to the champion: the deal's first contact
    zone = _zone(cprops.get(timezone_property)) if cprops.get(timezone_property) else default_timezone
    if zone is None:  # never a silent UTC: the deal goes through, and the answer says what we assumed
        zone = default_timezone
        note = (
            f"deal {deal_id}: unknown time zone {str(cprops.get(timezone_property))[:100]!r} on the "
            f"company: used {default_timezone} (HUBSPOT_DEFAULT_TIMEZONE)"
        )
        log.warning(note)
        if notes is not None:
            notes.append(note)
    data = {
        "id": f"hubspot-{company_ids[0]}" if company_ids else f"hubspot-deal-{deal_id}",
        "name": (cprops.get("name") or props.get("dealname") or f"HubSpot deal {deal_id}")[:200],
        "timezone": zone,
        "locale": _locale(cprops.get(locale_property)) or contacts[0]["locale"],
        "deal_id": str(deal_id),
        "contacts": contacts,
        "csm": csm,
    }
    try:
        return Account.model_validate(resolve_people(data, team)), _closed_at(deal)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise MappingError(f"deal {deal_id}: field '{where}': {first['msg']}") from None


async def _csm(crm: HubSpotCRM, deal_id: str, owner_id: str | None, team: Team, default: str) -> str:
    if owner_id:
        owner = await crm.get(path("/crm/v3/owners", owner_id))
        email = (owner or {}).get("email", "")
        member = next((p for p in team.people if email and p.email.lower() == email.lower()), None)
        if member:
            return member.id
        why = f"its owner {email or owner_id} is not in the team file"
    else:
        why = "it has no owner (hubspot_owner_id)"
    if default and team.get(default):
        return default
    raise MappingError(f"deal {deal_id}: no CSM: {why} (add them to team.yaml or set DEFAULT_CSM)")
