"""Identity, trust and limits at the HTTP surface, checked before any work (no Temporal server:
its address is a closed port, so anything that got past the checks would answer 503)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from test_service_validation import AUTH, CONFIG, _closed_port, _with

from csrunner.config.settings import REPO_ROOT, Settings
from csrunner.interfaces.web.app import create_app
from csrunner.interfaces.web.hubspot import sign_v3


def _app(tmp_path, **config):
    settings = Settings(
        temporal_address=f"127.0.0.1:{_closed_port()}", data_dir=tmp_path, team_file=REPO_ROOT / "team.yaml"
    )
    return create_app(settings, config=CONFIG.model_copy(update=config))


@pytest.fixture
async def http(tmp_path):
    transport = httpx.ASGITransport(app=_app(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client


FEED = {"Authorization": "Bearer feed-tok"}
MARIA = {"Authorization": "Bearer tok-maria"}


# --- people come from the team file only ------------------------------------------------------------
@pytest.mark.parametrize("role", ["csm", "manager", "executive"])
async def test_deal_closed_refuses_a_person_written_out_in_full(http, role):
    attacker = {
        "id": "tom",
        "name": "Tom Becker",
        "email": "attacker@evil.example",
        "slack_user": "UATTACKER",
    }
    r = await http.post("/webhooks/deal-closed", json=_with(["account", role], attacker), headers=AUTH)
    assert r.status_code == 422 and f"account.{role}" in r.json()["error"], r.text


async def test_deal_closed_names_each_unknown_person_id(http):
    body = _with(["account", "manager"], "ghost")
    r = await http.post("/webhooks/deal-closed", json=body, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["error"] == "field 'account.manager': unknown person id 'ghost' (not in the team file)"


# --- authentication before the body -------------------------------------------------------------
@pytest.mark.parametrize(
    "path, body",
    [
        ("/webhooks/deal-closed", b""),
        ("/webhooks/deal-closed", b"{nope"),
        ("/api/actions/approve", b""),
        ("/api/actions/approve", b"[1, 2"),
        ("/feeds/scores", b"{}"),
        ("/feeds/nps/batch", b"not json"),
    ],
)
async def test_without_a_token_the_body_is_not_even_parsed(http, path, body):
    r = await http.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 401 and "token" in r.json()["error"], r.text


# --- the body cap -------------------------------------------------------------------------------
async def test_a_declared_length_over_the_cap_is_413_before_reading(http):
    r = await http.post(
        "/webhooks/deal-closed",
        content=b"x" * (CONFIG.max_body_bytes + 1),
        headers={**AUTH, "content-type": "application/json"},
    )
    assert r.status_code == 413 and r.json() == {
        "error": f"request body too large: at most {CONFIG.max_body_bytes} bytes"
    }


async def test_a_streamed_body_over_the_cap_is_413_when_it_crosses_it(http):
    async def chunks():  # no Content-Length: chunked, as an attacker would send it
        for _ in range(40):
            yield b"[" + b"1," * 5000

    for path, headers in [("/webhooks/deal-closed", AUTH), ("/api/actions/approve", MARIA)]:
        r = await http.post(path, content=chunks(), headers={**headers, "content-type": "application/json"})
        assert r.status_code == 413 and "too large" in r.json()["error"], (path, r.text)


async def test_batches_get_the_larger_cap(http):
    items = [{"account_id": f"acct-{i}", "score": 50} for i in range(1000)]  # ~40 KB
    body = json.dumps(items).encode() + b" " * (CONFIG.max_body_bytes)  # over the small cap only
    r = await http.post(
        "/feeds/scores/batch", content=body, headers={**FEED, "content-type": "application/json"}
    )
    assert r.status_code == 503, r.text  # got through the cap and validation: only Temporal is missing


async def test_every_string_has_a_length_limit(http):
    for path, value in [
        (["account", "industry"], "x" * 201),
        (["account", "name"], "x" * 201),
        (["account", "contacts", 0, "name"], "x" * 201),
        (["account", "contacts", 0, "role"], "x" * 201),
        (["account", "plan"], "x" * 201),
    ]:
        r = await http.post("/webhooks/deal-closed", json=_with(path, value), headers=AUTH)
        field = ".".join(str(p) for p in path)
        assert r.status_code == 422 and f"field '{field}'" in r.json()["error"], r.text
    contacts = [{"name": "A", "email": f"a{i}@x.example", "role": "user"} for i in range(101)]
    r = await http.post("/webhooks/deal-closed", json=_with(["account", "contacts"], contacts), headers=AUTH)
    assert r.status_code == 422 and "account.contacts" in r.json()["error"]


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(document.cookie)", "http://survey.example/x", "data:text/html,hi", "https://a b"],
)
async def test_survey_url_must_be_https(http, url):
    r = await http.post("/webhooks/deal-closed", json=_with(["account", "survey_url"], url), headers=AUTH)
    assert (
        r.status_code == 422 and "account.survey_url" in r.json()["error"] and "https://" in r.json()["error"]
    )


# --- strict feeds -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path, body",
    [
        ("/feeds/scores", {"account_id": "acme", "score": True}),
        ("/feeds/scores", {"account_id": "acme", "score": "50"}),
        ("/feeds/nps", {"account_id": "acme", "score": True}),
        ("/feeds/nps", {"account_id": "acme", "score": "9"}),
        ("/feeds/nps", {"account_id": "acme", "score": 9.0}),
    ],
)
async def test_feeds_take_numbers_only_as_numbers(http, path, body):
    r = await http.post(path, json=body, headers=FEED)
    assert r.status_code == 422 and "field 'score'" in r.json()["error"], r.text


async def test_batch_items_are_strict_too(http):
    r = await http.post("/feeds/scores/batch", json=[{"account_id": "acme", "score": True}], headers=FEED)
    assert r.status_code == 200 and r.json()["errors"] == 1 and "score" in r.json()["results"][0]["error"]


# --- headers, sessions and origins ----------------------------------------------------------------
@pytest.mark.parametrize("path", ["/inbox/login", "/healthz", "/docs", "/nope"])
async def test_every_answer_carries_frame_and_content_type_protection(http, path):
    r = await http.get(path)
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "script-src 'self'" in r.headers["content-security-policy"]


async def test_error_bodies_are_always_the_error_shape(http):
    r = await http.get("/nope")
    assert r.status_code == 404 and r.json() == {"error": "Not Found"}
    r = await http.get("/webhooks/deal-closed")
    assert r.status_code == 405 and r.json() == {"error": "Method Not Allowed"}


async def test_docs_are_served_by_the_service_itself(http):
    for page, assets in [
        (
            "/docs",
            ["/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css", "/static/swagger-init.js"],
        ),
        ("/redoc", ["/docs-assets/redoc.standalone.js"]),
    ]:
        html = (await http.get(page)).text
        assert "http" not in html.replace("http-equiv", "")  # nothing from a CDN
        for asset in assets:
            assert asset in html
            r = await http.get(asset)
            assert r.status_code == 200 and len(r.content) > 400, asset


async def test_inbox_session_is_server_side_and_revoked_at_logout(http):
    r = await http.post("/inbox/login", data={"token": "tok-maria"})
    sid = r.cookies["csr_session"]
    assert r.status_code == 303 and sid != "tok-maria" and "tok-maria" not in r.headers["set-cookie"]
    http.cookies.clear()
    assert (await http.get("/inbox", cookies={"csr_session": sid})).status_code == 200
    assert (
        await http.get("/inbox", cookies={"csr_session": "tok-maria"})
    ).status_code == 303  # a token is no session
    r = await http.post("/inbox/logout", cookies={"csr_session": sid})
    assert r.status_code == 303
    http.cookies.clear()
    r = await http.get("/inbox", cookies={"csr_session": sid})
    assert r.status_code == 303 and r.headers["location"] == "/inbox/login"  # the old cookie is dead


async def test_a_rotated_token_ends_its_sessions(tmp_path):
    app = _app(tmp_path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as http:
        sid = (await http.post("/inbox/login", data={"token": "tok-maria"})).cookies["csr_session"]
        svc = app.state.svc
        svc.config = svc.config.model_copy(update={"api_tokens": {"tok-maria-2": "maria"}})
        http.cookies.clear()
        assert (await http.get("/inbox", cookies={"csr_session": sid})).status_code == 303


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://svc.evil.example"},
    ],
)
async def test_sign_in_and_actions_from_another_site_are_refused(http, headers):
    r = await http.post("/inbox/login", data={"token": "tok-maria"}, headers=headers)
    assert r.status_code == 403 and "cross-origin" in r.json()["error"] and "set-cookie" not in r.headers
    r = await http.post("/inbox/act", data={"workflow_id": "w"}, headers=headers)
    assert r.status_code == 403


async def test_sign_in_from_the_inbox_page_itself(http):
    r = await http.post(
        "/inbox/login",
        data={"token": "tok-maria"},
        headers={"Origin": "http://svc", "Sec-Fetch-Site": "same-origin"},
    )
    assert r.status_code == 303


# --- HubSpot configuration ------------------------------------------------------------------------
async def test_hubspot_without_an_access_token_names_the_setting(tmp_path):
    app = _app(tmp_path, hubspot_access_token="")
    body = json.dumps(
        [
            {
                "objectId": 5,
                "subscriptionType": "deal.propertyChange",
                "propertyName": "dealstage",
                "propertyValue": "closedwon",
            }
        ]
    ).encode()
    ts = str(int(time.time() * 1000))
    headers = {
        "X-HubSpot-Request-Timestamp": ts,
        "content-type": "application/json",
        "X-HubSpot-Signature-v3": sign_v3("hs-secret", "POST", "http://svc/webhooks/hubspot", body, ts),
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as http:
        r = await http.post("/webhooks/hubspot", content=body, headers=headers)
    assert r.status_code == 503 and "HUBSPOT_ACCESS_TOKEN is not set" in r.json()["error"]
    assert "Illegal header" not in r.text
    assert app.state.svc.config.startup_problems() == [
        "HUBSPOT_CLIENT_SECRET is set but HUBSPOT_ACCESS_TOKEN is not: HubSpot deals cannot be read, "
        "and the HubSpot webhook answers 503 until it is set"
    ]
