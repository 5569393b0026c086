"""HubSpot CRM v3 → our Account, through the fake HubSpot: roles, owner → CSM, timezone,
locale, and retries on 429 / 5xx honouring Retry-After."""

from __future__ import annotations

import httpx
import pytest

from csrunner.config.accounts import load_team
from csrunner.config.settings import REPO_ROOT
from csrunner.interfaces.web.hubspot import CRMError, HubSpotCRM, MappingError, account_for_deal

try:
    from tests.fakes import FakeHubSpot
except ImportError:  # tests/ itself is on sys.path
    from fakes import FakeHubSpot

TEAM = load_team(REPO_ROOT / "team.yaml")
PROPS = dict(role_property="hs_buying_role", timezone_property="timezone", locale_property="hs_language")


@pytest.fixture(scope="module")
def _hs():
    with FakeHubSpot() as fake:
        yield fake


@pytest.fixture
def hs(_hs):
    _hs.clear_data()
    _hs.reset()
    _hs.add_owner(501, "maria@cs.example.com", "María", "García")
    _hs.add_owner(502, "stranger@elsewhere.example", "Sam", "Stranger")
    _hs.add_company(77, {"name": "Acme Corp", "timezone": "america_slash_new_york", "hs_language": "es"})
    _hs.add_contact(
        1,
        {
            "email": "ana@acme.example",
            "firstname": "Ana",
            "lastname": "López",
            "hs_buying_role": "EXECUTIVE_SPONSOR",
            "hs_language": "es",
        },
        company_id=77,
    )
    _hs.add_contact(
        2,
        {"email": "bo@acme.example", "firstname": "Bo", "hs_buying_role": "CHAMPION;END_USER"},
        company_id=77,
    )
    _hs.add_contact(3, {"firstname": "No Email"}, company_id=77)
    _hs.add_deal(
        9001,
        {
            "dealname": "Acme annual",
            "dealstage": "closedwon",
            "hubspot_owner_id": "501",
            "closedate": "2024-04-24T08:30:37.139Z",
        },
        company_id=77,
        contact_ids=[1],
    )
    return _hs


async def _map(hs, deal_id, **kw):
    crm = HubSpotCRM(hs.url, "hs-test-token", max_wait=0.05)
    try:
        return await account_for_deal(crm, deal_id, TEAM, **PROPS, **kw)
    finally:
        await crm.aclose()


async def test_deal_company_contacts_and_owner_become_an_account(hs):
    account, closed_at = await _map(hs, "9001")
    assert account.id == "hubspot-77" and account.name == "Acme Corp" and account.deal_id == "9001"
    assert account.timezone == "America/New_York" and account.locale == "es"
    assert account.csm.id == "maria" and account.manager and account.manager.id == "carlos"
    roles = {c.email: c.role for c in account.contacts}
    assert roles == {"ana@acme.example": "executive_sponsor", "bo@acme.example": "champion"}
    assert account.contact("champion").name == "Bo"
    assert closed_at and closed_at.year == 2024


async def test_first_contact_becomes_champion_when_none_is(hs):
    hs.add_contact(2, {"email": "bo@acme.example", "firstname": "Bo"}, company_id=77)
    account, _ = await _map(hs, "9001")
    assert account.contact("champion").email == "ana@acme.example"  # the deal's own contact first


async def test_owner_not_in_team_is_refused_by_name_unless_a_default_csm(hs):
    hs.add_deal(9002, {"dealname": "X", "hubspot_owner_id": "502"}, company_id=77)
    with pytest.raises(MappingError, match="stranger@elsewhere.example is not in the team file"):
        await _map(hs, "9002")
    account, _ = await _map(hs, "9002", default_csm="tom")
    assert account.csm.id == "tom"


async def test_unknown_deal_and_deal_without_contacts(hs):
    with pytest.raises(MappingError, match="deal 404404: not found"):
        await _map(hs, "404404")
    hs.add_deal(9003, {"dealname": "Lonely", "hubspot_owner_id": "501"})
    with pytest.raises(MappingError, match="no associated contact"):
        await _map(hs, "9003")


async def test_retries_on_429_and_5xx_then_gives_up(hs):
    hs.fail_next(429, times=1, headers={"Retry-After": "0"})
    hs.fail_next(503, times=1)
    account, _ = await _map(hs, "9001")
    assert account.id == "hubspot-77"
    statuses = [r.status for r in hs.requests]
    assert statuses[:3] == [429, 503, 200]
    hs.reset()
    hs.fail_next(500, times=10)
    with pytest.raises(CRMError, match="still answers 500"):
        await _map(hs, "9001")


async def test_wrong_token_is_a_crm_error(hs):
    crm = HubSpotCRM(hs.url, "wrong")
    try:
        with pytest.raises(CRMError, match="401"):
            await account_for_deal(crm, "9001", TEAM, **PROPS)
    finally:
        await crm.aclose()


async def test_ids_are_one_path_segment_in_every_crm_url():
    sent = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url)
        return httpx.Response(404, json={"status": "error", "message": "not found"})

    crm = HubSpotCRM("https://api.hubapi.example", "tok", transport=httpx.MockTransport(answer))
    try:
        with pytest.raises(MappingError, match="not found in HubSpot"):
            await account_for_deal(crm, "../../x?y=1", TEAM, **PROPS)
    finally:
        await crm.aclose()
    assert [u.raw_path.split(b"?")[0] for u in sent] == [b"/crm/v3/objects/deals/..%2F..%2Fx%3Fy%3D1"]
    assert "y" not in sent[0].params  # the '?' did not start a query of its own


async def test_an_unknown_company_time_zone_gets_the_default_with_a_note(hs):
    hs.add_company(78, {"name": "Mars Corp", "timezone": "mars_slash_olympus"})
    hs.add_deal(9004, {"dealname": "M", "hubspot_owner_id": "501"}, company_id=78, contact_ids=[1])
    notes: list[str] = []
    account, _ = await _map(hs, "9004", default_timezone="Europe/Madrid", notes=notes)
    assert account.timezone == "Europe/Madrid"
    assert notes == [
        "deal 9004: unknown time zone 'mars_slash_olympus' on the company: used Europe/Madrid "
        "(HUBSPOT_DEFAULT_TIMEZONE)"
    ]
