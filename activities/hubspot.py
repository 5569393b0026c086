"""HubSpot CRM v3 reads for the deal intake: one pass per attempt, every failure classified.
HubSpot down (network, 5xx, 429 with Retry-After) or refusing our token is transient, retried by
Temporal for days; a deal that cannot become an account is permanent and becomes a task."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import httpx
from temporalio import activity

from activities.errors import classify_http, permanent, transient
from activities.outbox import file_name, write_markdown
from activities.tasks import task_markdown
from csrunner.config.accounts import Team, load_team
from csrunner.config.hubspot_deals import (
    DealRecords,
    MappingError,
    MappingRules,
    account_for_deal,
    associated_ids,
    contact_ids,
)
from csrunner.config.settings import Settings
from csrunner.domain.deal_intake import DealAccount, DealIntakeInput, IntakeProblem
from csrunner.domain.messages import Account, Contact, Person, TaskRequest

DEAL_PROPERTIES = "dealname,dealstage,closedate,hubspot_owner_id,pipeline"


def path(*parts: object) -> str:
    """A CRM v3 path with every id percent-encoded: an objectId of '../../x?y=1' stays one segment."""
    return "/".join(quote(str(p), safe="") if i else str(p) for i, p in enumerate(parts))


class HubSpotReader:
    """GETs against the CRM v3 API; raises transient/permanent ApplicationErrors, never retries."""

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {token}"},
        )

    async def __aenter__(self) -> HubSpotReader:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def get(self, where: str, **params: str) -> dict | None:
        """The JSON object, or None on 404."""
        try:
            r = await self._http.get(where, params={k: v for k, v in params.items() if v})
        except httpx.TransportError as e:
            raise transient(f"HubSpot unreachable: {e or type(e).__name__}") from None
        if r.status_code == 404:
            return None
        if r.status_code < 300:
            return r.json()
        if r.status_code in (401, 403):  # a token to fix on the worker: the deal waits for it
            raise transient(f"HubSpot refused HUBSPOT_ACCESS_TOKEN ({r.status_code}) on {where}")
        raise classify_http(
            r.status_code, f"HubSpot on {where}: {r.text[:300]}", r.headers.get("Retry-After")
        )


async def read_deal(crm: HubSpotReader, deal_id: str, rules: MappingRules) -> DealRecords:
    """The deal, its first company, its owner and its contacts (independent reads at once)."""
    deal = await crm.get(
        path("/crm/v3/objects/deals", deal_id), associations="companies,contacts", properties=DEAL_PROPERTIES
    )
    if deal is None:
        raise MappingError(f"deal {deal_id}: not found in HubSpot")
    companies = associated_ids(deal, "companies")
    owner_id = (deal.get("properties") or {}).get("hubspot_owner_id")

    async def company() -> dict[str, Any]:
        if not companies:
            return {}
        props = f"name,domain,{rules.timezone_property},{rules.locale_property}"
        found = await crm.get(
            path("/crm/v3/objects/companies", companies[0]), associations="contacts", properties=props
        )
        return found or {}

    async def owner() -> dict | None:
        return await crm.get(path("/crm/v3/owners", owner_id)) if owner_id else None

    company_obj, owner_obj = await asyncio.gather(company(), owner())
    props = f"email,firstname,lastname,hs_language,{rules.role_property}"
    contacts = await asyncio.gather(
        *(
            crm.get(path("/crm/v3/objects/contacts", c), properties=props)
            for c in contact_ids(deal, company_obj)
        )
    )
    return DealRecords(deal_id, deal, company_obj, owner_obj, [c for c in contacts if c])


def rules_from(settings: Settings) -> MappingRules:
    return MappingRules(
        role_property=settings.hubspot_role_property,
        timezone_property=settings.hubspot_timezone_property,
        locale_property=settings.hubspot_locale_property,
        default_csm=settings.default_csm,
        default_timezone=settings.hubspot_default_timezone,
    )


def problem_owner(team: Team, default_csm: str) -> Person | None:
    """Who fixes a deal that could not be read: DEFAULT_CSM, else a manager, else the executive."""
    member = team.get(default_csm) if default_csm else None
    member = member or next((p for p in team.people if p.role == "manager"), None) or team.get(team.executive)
    return Person.model_validate(member.model_dump(exclude={"role", "manager"})) if member else None


class HubSpotActivities:
    def __init__(self, settings: Settings):
        self.settings = settings

    @activity.defn(name="hubspot_deal_account")
    async def deal_account(self, inp: DealIntakeInput) -> DealAccount:
        s = self.settings
        if not s.hubspot_access_token:  # transient: the deal waits until the worker is configured
            raise transient("HUBSPOT_ACCESS_TOKEN is not set on the worker: the deal cannot be read")
        rules = rules_from(s)
        try:
            async with HubSpotReader(
                s.hubspot_api_url, s.hubspot_access_token, s.hubspot_read_timeout
            ) as crm:
                records = await read_deal(crm, inp.deal_id, rules)
            found = account_for_deal(records, load_team(s.team_file), rules)
        except MappingError as e:
            raise permanent(str(e)) from None
        for note in found.notes:
            activity.logger.warning(note)
        return found

    @activity.defn(name="hubspot_intake_task")
    def intake_task(self, p: IntakeProblem) -> str:
        """The task card (outbox tasks/, like a playbook's): written again on a retry, never twice."""
        team = load_team(self.settings.team_file)
        who = problem_owner(team, self.settings.default_csm)
        if who is None:  # nobody to tell: the intake's result and the worker log still say it
            activity.logger.error(
                "HubSpot deal %s needs a person, but team.yaml names none: %s", p.deal_id, p.problem
            )
            return ""
        placeholder = Account(
            id=file_name(f"hubspot-deal-{p.deal_id}", "")[:100],  # the card's account line only
            name=f"HubSpot deal {p.deal_id}",
            contacts=[Contact(name=who.name, email=who.email, role="csm")],
            csm=who,
        )
        req = TaskRequest(
            key=p.key,
            account=placeholder,
            assignee=who,
            title=f"HubSpot deal {p.deal_id} did not start a journey"[:300],
            description=p.problem,
            checklist=[
                "Fix the deal in HubSpot (a contact with an email, an owner in team.yaml) or set DEFAULT_CSM",
                "Start the journey with `csr deal-closed ACCOUNT_FILE DEAL_ID` or POST /webhooks/deal-closed",
            ],
        )
        write_markdown(self.settings.outbox_dir, "tasks", p.key, task_markdown(req))
        return p.key
