"""HubSpot CRM v3 → our Account, through the fake HubSpot: roles, owner → CSM, timezone,
locale; HubSpot down (network, 429 with Retry-After, 5xx, a refused token) is transient for
Temporal to retry, anything else permanent."""

from __future__ import annotations

import socket

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.hubspot import HubSpotReader, problem_owner, read_deal
from csrunner.config.accounts import Team, load_team
from csrunner.config.hubspot_deals import MappingError, MappingRules, account_for_deal
from csrunner.config.settings import REPO_ROOT
from csrunner.domain.errors import PERMANENT, TRANSIENT

try:
    from tests.fakes import FakeHubSpot
except ImportError:  # tests/ itself is on sys.path
    from fakes import FakeHubSpot

TEAM = load_team(REPO_ROOT / "team.yaml")


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


async def _map(hs, deal_id, token="hs-test-token", transport=None, **rules):
    rules_ = MappingRules(**rules)
    async with HubSpotReader(
        hs.url if hs else "https://api.hubapi.example", token, transport=transport
    ) as crm:
        found = account_for_deal(await read_deal(crm, deal_id, rules_), TEAM, rules_)
    return found.account, found.closed_at


async def _failure(hs, deal_id="9001", **kw) -> ApplicationError:
    with pytest.raises(ApplicationError) as e:
        await _map(hs, deal_id, **kw)
    return e.value


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


async def test_hubspot_down_is_transient_with_its_retry_after(hs):
    hs.fail_next(429, times=1, headers={"Retry-After": "7"})
    e = await _failure(hs)
    assert e.type == TRANSIENT and not e.non_retryable and e.next_retry_delay.total_seconds() == 7
    hs.fail_next(503, times=1)
    e = await _failure(hs)
    assert e.type == TRANSIENT and "503" in e.message
    account, _ = await _map(hs, "9001")  # back: the next attempt goes through
    assert account.id == "hubspot-77"


async def test_a_closed_port_and_a_refused_token_are_transient_anything_else_permanent(hs):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    async with HubSpotReader(closed, "tok") as crm:
        with pytest.raises(ApplicationError, match="HubSpot unreachable") as e:
            await crm.get("/crm/v3/objects/deals/1")
    assert e.value.type == TRANSIENT
    e = await _failure(hs, token="wrong")
    assert e.type == TRANSIENT and "HUBSPOT_ACCESS_TOKEN" in e.message and "401" in e.message
    hs.fail_next(400, times=1)
    e = await _failure(hs)
    assert e.type == PERMANENT and e.non_retryable


def test_a_deal_nobody_can_map_goes_to_default_csm_else_a_manager():
    assert problem_owner(TEAM, "tom").id == "tom"
    assert problem_owner(TEAM, "").id == "carlos"  # team.yaml's manager
    assert problem_owner(Team(), "") is None


async def test_ids_are_one_path_segment_in_every_crm_url():
    sent = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url)
        return httpx.Response(404, json={"status": "error", "message": "not found"})

    with pytest.raises(MappingError, match="not found in HubSpot"):
        await _map(None, "../../x?y=1", token="tok", transport=httpx.MockTransport(answer))
    assert [u.raw_path.split(b"?")[0] for u in sent] == [b"/crm/v3/objects/deals/..%2F..%2Fx%3Fy%3D1"]
    assert "y" not in sent[0].params  # the '?' did not start a query of its own


async def test_an_unknown_company_time_zone_gets_the_default_with_a_note(hs):
    hs.add_company(78, {"name": "Mars Corp", "timezone": "mars_slash_olympus"})
    hs.add_deal(9004, {"dealname": "M", "hubspot_owner_id": "501"}, company_id=78, contact_ids=[1])
    rules = MappingRules(default_timezone="Europe/Madrid")
    async with HubSpotReader(hs.url, "hs-test-token") as crm:
        found = account_for_deal(await read_deal(crm, "9004", rules), TEAM, rules)
    assert found.account.timezone == "Europe/Madrid"
    assert found.notes == [
        "deal 9004: unknown time zone 'mars_slash_olympus' on the company: used Europe/Madrid "
        "(HUBSPOT_DEFAULT_TIMEZONE)"
    ]
