"""HubSpot CRM v3 records → our `Account`: company → account, contacts with roles, deal owner →
CSM by email (team.yaml). No I/O here: activities/hubspot.py reads the records and calls this."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from csrunner.config.accounts import Team, resolve_people
from csrunner.domain.deal_intake import DealAccount
from csrunner.domain.messages import Account
from csrunner.domain.values import check_timezone

log = logging.getLogger(__name__)
MAX_CONTACTS = 25


class MappingError(ValueError):
    """The deal cannot become an account (nothing was started); the message says why."""


@dataclass
class DealRecords:
    """What HubSpot said about one deal (each object as the CRM v3 API returns it)."""

    deal_id: str
    deal: dict[str, Any]
    company: dict[str, Any] = field(default_factory=dict)
    owner: dict[str, Any] | None = None
    contacts: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class MappingRules:
    role_property: str = "hs_buying_role"
    timezone_property: str = "timezone"
    locale_property: str = "hs_language"
    default_csm: str = ""
    default_timezone: str = "UTC"


def associated_ids(obj: dict, kind: str) -> list[str]:
    return [str(r["id"]) for r in (obj.get("associations") or {}).get(kind, {}).get("results", [])]


def contact_ids(deal: dict, company: dict) -> list[str]:
    """The deal's contacts, then the company's, once each (at most MAX_CONTACTS)."""
    ids = associated_ids(deal, "contacts") + associated_ids(company, "contacts")
    return list(dict.fromkeys(ids))[:MAX_CONTACTS]


def _zone(value: str | None) -> str | None:
    """HubSpot writes zones as 'America/New_York' or 'america_slash_new_york'; None if unknown."""
    name = (value or "").replace("_slash_", "/")[:100]
    if name == name.lower():
        name = "/".join("_".join(w.capitalize() for w in part.split("_")) for part in name.split("/"))
    try:
        return check_timezone(name)
    except ValueError:
        return None


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


def csm_for(deal_id: str, owner_id: str | None, owner: dict | None, team: Team, default: str) -> str:
    """The deal owner's team id (matched by email), else DEFAULT_CSM, else MappingError."""
    if owner_id:
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


def _contacts(records: DealRecords, rules: MappingRules, company_props: dict) -> list[dict[str, Any]]:
    out = []
    for c in records.contacts:
        p = c.get("properties") or {}
        if not p.get("email"):
            continue  # nobody to write to
        name = " ".join(filter(None, (p.get("firstname"), p.get("lastname")))) or p["email"]
        locale = _locale(p.get("hs_language")) or _locale(company_props.get(rules.locale_property)) or "en"
        role = _role(p.get(rules.role_property))
        out.append({"name": name[:200], "email": p["email"], "role": role, "locale": locale})
    if not out:
        raise MappingError(f"deal {records.deal_id}: no associated contact with an email address")
    if not any(c["role"] == "champion" for c in out):
        out[0]["role"] = "champion"  # onboarding writes to the champion: the deal's first contact
    return out


def account_for_deal(records: DealRecords, team: Team, rules: MappingRules) -> DealAccount:
    """The account of a closed-won deal; what had to be assumed is in `notes`."""
    deal_id, props = records.deal_id, records.deal.get("properties") or {}
    csm = csm_for(deal_id, props.get("hubspot_owner_id"), records.owner, team, rules.default_csm)
    cprops = records.company.get("properties") or {}
    contacts = _contacts(records, rules, cprops)
    notes: list[str] = []
    raw_zone = cprops.get(rules.timezone_property)
    zone = _zone(raw_zone) if raw_zone else rules.default_timezone
    if zone is None:  # never a silent UTC: the deal goes through, and the intake says what we assumed
        zone = rules.default_timezone
        notes.append(
            f"deal {deal_id}: unknown time zone {str(raw_zone)[:100]!r} on the company: used "
            f"{rules.default_timezone} (HUBSPOT_DEFAULT_TIMEZONE)"
        )
        log.warning(notes[-1])
    company_ids = associated_ids(records.deal, "companies")
    data = {
        "id": f"hubspot-{company_ids[0]}" if company_ids else f"hubspot-deal-{deal_id}",
        "name": (cprops.get("name") or props.get("dealname") or f"HubSpot deal {deal_id}")[:200],
        "timezone": zone,
        "locale": _locale(cprops.get(rules.locale_property)) or contacts[0]["locale"],
        "deal_id": str(deal_id),
        "contacts": contacts,
        "csm": csm,
    }
    try:
        account = Account.model_validate(resolve_people(data, team))
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise MappingError(f"deal {deal_id}: field '{where}': {first['msg']}") from None
    return DealAccount(account=account, closed_at=_closed_at(records.deal), notes=notes)
