"""Bad input is a 4xx naming what is wrong, never a 500; a good request with Temporal
unreachable is a 503. No Temporal server here: Temporal's address is a closed port."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from csrunner.config.settings import REPO_ROOT, ServiceConfig, Settings, parse_tokens
from csrunner.interfaces.web.app import create_app
from csrunner.interfaces.web.hubspot import sign_v3

SECRET, SLACK_SECRET = "hs-secret", "slack-secret"
CONFIG = ServiceConfig(
    hubspot_client_secret=SECRET,
    slack_signing_secret=SLACK_SECRET,
    deal_webhook_token="deal-tok",
    feed_token="feed-tok",
    api_tokens=parse_tokens("tok-maria:maria, tok-olga:olga, tok-ghost:ghost"),
    temporal_timeout=3,
    hubspot_access_token="hs-tok",
)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def http(tmp_path):
    settings = Settings(
        temporal_address=f"127.0.0.1:{_closed_port()}", data_dir=tmp_path, team_file=REPO_ROOT / "team.yaml"
    )
    app = create_app(settings, config=CONFIG)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        yield client


DEAL = {
    "deal_id": "d-1",
    "account": {
        "id": "acme",
        "name": "Acme",
        "timezone": "Europe/Madrid",
        "csm": "maria",
        "contacts": [{"name": "Ana", "email": "ana@acme.example", "role": "champion"}],
    },
}
AUTH = {"Authorization": "Bearer deal-tok"}


def _with(path, value):
    body = json.loads(json.dumps(DEAL))
    *parents, last = path
    target = body
    for p in parents:
        target = target[p]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return body


@pytest.mark.parametrize(
    "body, status, names",
    [
        (_with(["account", "contacts"], KeyError), 422, "account.contacts"),
        (_with(["account", "contacts", 0, "email"], "not-an-email"), 422, "account.contacts.0.email"),
        (_with(["deal_id"], 42), 422, "deal_id"),
        (_with(["account", "timezone"], "Mars/Olympus"), 422, "account.timezone"),
        (_with(["account", "csm"], "nobody"), 422, "unknown person id 'nobody'"),
        (_with(["account", "id"], "../etc"), 422, "account.id"),
        (_with(["surprise"], 1), 422, "surprise"),
        (_with(["facts"], {"tier": "Gold", "arr": 5}), 422, "field 'facts.arr': unknown fact 'arr'"),
        (
            _with(["facts"], {"contract_end": "soon"}),
            422,
            "field 'facts.contract_end': date must be a date YYYY-MM-DD, got 'soon'",
        ),
        (_with(["facts"], ["tier"]), 422, "facts"),
    ],
)
async def test_deal_closed_bad_input_names_the_field(http, body, status, names):
    r = await http.post("/webhooks/deal-closed", json=body, headers=AUTH)
    assert r.status_code == status and names in r.json()["error"], r.text


async def test_deal_closed_malformed_json_auth_and_temporal_down(http):
    r = await http.post(
        "/webhooks/deal-closed", content=b"{nope", headers={**AUTH, "content-type": "application/json"}
    )
    assert r.status_code == 400 and "malformed JSON" in r.json()["error"]
    assert (await http.post("/webhooks/deal-closed", json=DEAL)).status_code == 401
    assert (
        await http.post("/webhooks/deal-closed", json=DEAL, headers={"Authorization": "Bearer x"})
    ).status_code == 401
    started = time.monotonic()
    r = await http.post("/webhooks/deal-closed", json=DEAL, headers=AUTH)
    assert r.status_code == 503 and "Temporal is unreachable" in r.json()["error"], r.text
    assert r.headers["retry-after"] and time.monotonic() - started < 10


def _hubspot(body: bytes, ts: int | None = None, secret: str = SECRET):
    ts = str(ts or int(time.time() * 1000))
    return {
        "X-HubSpot-Request-Timestamp": ts,
        "content-type": "application/json",
        "X-HubSpot-Signature-v3": sign_v3(secret, "POST", "http://svc/webhooks/hubspot", body, ts),
    }


async def test_hubspot_signature_and_shape(http):
    body = json.dumps([{"objectId": 1, "subscriptionType": "deal.creation", "eventId": 1}]).encode()
    r = await http.post("/webhooks/hubspot", content=body, headers=_hubspot(body))
    assert r.status_code == 200 and r.json() == {"received": 1, "started": [], "duplicates": [], "ignored": 1}
    for headers, why in [
        (_hubspot(body, secret="forged"), "bad signature"),
        (_hubspot(body, ts=int(time.time() * 1000) - 301_000), "stale"),
        ({}, "missing"),
    ]:
        r = await http.post("/webhooks/hubspot", content=body, headers=headers)
        assert r.status_code == 401 and why in r.json()["error"]
    for bad, why in [
        (b"{not json", "malformed JSON"),
        (b'{"objectId": 1}', "not a HubSpot event batch"),
        (b'[{"objectId": 1}]', "subscriptionType"),
    ]:
        r = await http.post("/webhooks/hubspot", content=bad, headers=_hubspot(bad))
        assert r.status_code in (400, 422) and why in r.json()["error"], r.text
    won = json.dumps(
        [
            {
                "objectId": 5,
                "subscriptionType": "deal.propertyChange",
                "propertyName": "dealstage",
                "propertyValue": "closedwon",
            }
        ]
    ).encode()
    r = await http.post("/webhooks/hubspot", content=won, headers=_hubspot(won))
    assert r.status_code == 503 and "Temporal is unreachable" in r.json()["error"], r.text  # HubSpot retries
    assert r.headers["Retry-After"]


def _slack(payload, user="U01MARIA", secret=SLACK_SECRET):
    body = (
        str(httpx.QueryParams({"payload": json.dumps(payload)})).encode() if payload is not None else b"x=1"
    )
    ts = str(int(time.time()))
    sig = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return body, {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sig,
        "content-type": "application/x-www-form-urlencoded",
    }


def _click(user="U01MARIA", value="wf|step"):
    return {
        "type": "block_actions",
        "user": {"id": user},
        "container": {"channel_id": "C1", "message_ts": "1.2"},
        "actions": [{"action_id": "approve", "value": value, "type": "button"}],
    }


async def test_slack_refusals(http, tmp_path):
    body, headers = _slack(_click())
    assert (
        await http.post(
            "/slack/interactions", content=body, headers={**headers, "X-Slack-Signature": "v0=00"}
        )
    ).status_code == 401
    body, headers = _slack(None)
    r = await http.post("/slack/interactions", content=body, headers=headers)
    assert r.status_code == 400 and "payload" in r.json()["error"]
    body, headers = _slack(_click(user="W999"))
    r = await http.post("/slack/interactions", content=body, headers=headers)
    assert r.status_code == 403 and "not a known team member" in r.json()["error"]
    assert list((tmp_path / "outbox" / "slack").glob("*.md"))  # no bot token: the refusal went to the outbox
    body, headers = _slack(_click(value="no-separator"))
    r = await http.post("/slack/interactions", content=body, headers=headers)
    assert r.status_code == 400 and "button value" in r.json()["error"]
    body, headers = _slack({"type": "view_submission"})
    assert (await http.post("/slack/interactions", content=body, headers=headers)).json()["ok"] is True


async def test_api_auth_and_input(http):
    assert (await http.get("/api/pending")).status_code == 401
    assert (await http.get("/api/pending", headers={"Authorization": "Bearer nope"})).status_code == 401
    assert (await http.get("/api/me", headers={"Authorization": "Bearer tok-ghost"})).status_code == 401
    me = await http.get("/api/me", headers={"Authorization": "Bearer tok-maria"})
    assert me.json()["sees"] == ["maria"] and me.json()["role"] == "csm"
    maria = {"Authorization": "Bearer tok-maria"}
    r = await http.get("/api/pending", params={"csm": "tom"}, headers=maria)
    assert r.status_code == 403 and "may not see" in r.json()["error"]
    r = await http.post("/api/actions/snooze", json={"workflow_id": "w", "step_id": "s"}, headers=maria)
    assert r.status_code == 422 and "until" in r.json()["error"]
    r = await http.post(
        "/api/actions/snooze",
        json={"workflow_id": "w", "step_id": "s", "until": "2999-01-01T00:00:00Z"},
        headers=maria,
    )
    assert r.status_code == 422 and "365 days" in r.json()["error"]
    r = await http.get("/api/accounts/bad%20id/timeline", headers=maria)
    assert r.status_code == 422 and "account_id" in r.json()["error"]
    r = await http.post("/api/actions/approve", json={"workflow_id": "w", "step_id": "s"}, headers=maria)
    assert r.status_code == 503


async def test_feeds_auth_and_per_item_batch(http):
    assert (await http.post("/feeds/scores", json={"account_id": "a", "score": 5})).status_code == 401
    maria = {"Authorization": "Bearer tok-maria"}
    assert (
        await http.post("/feeds/scores", json={"account_id": "a", "score": 5}, headers=maria)
    ).status_code == 403
    feed = {"Authorization": "Bearer feed-tok"}
    r = await http.post("/feeds/scores", json={"account_id": "a"}, headers=feed)
    assert r.status_code in (422, 503)  # the journeys check the one-of before Temporal is needed
    r = await http.post(
        "/feeds/scores/batch", json=[{"account_id": "a", "score": 101}, "x", {"score": 3}], headers=feed
    )
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert r.json()["errors"] == 3 and "score" in res[0]["error"] and res[0]["account_id"] == "a"
    assert "account_id" in res[2]["error"]
    r = await http.post("/feeds/nps/batch", json=[{"account_id": "a", "score": 9}], headers=feed)
    assert r.status_code == 503 and r.json()["detail"]["results"][0]["status"] == "error"
    r = await http.post("/feeds/nps", json={"account_id": "a", "score": 11}, headers=feed)
    assert r.status_code == 422 and "score" in r.json()["error"]


async def test_inbox_login_pages(http):
    assert (await http.get("/inbox")).status_code == 303
    r = await http.post("/inbox/login", data={"token": "wrong"})
    assert r.status_code == 401 and "unknown token" in r.text
    r = await http.post("/inbox/login", data={"token": "tok-maria"})
    assert r.status_code == 303 and "csr_session" in r.headers["set-cookie"]
    assert "HttpOnly" in r.headers["set-cookie"] or "httponly" in r.headers["set-cookie"]
    session = {"csr_session": r.cookies["csr_session"]}
    http.cookies.clear()
    r = await http.get("/inbox", cookies=session)
    assert r.status_code == 200 and "Temporal is unreachable" in r.text and "María García" in r.text
    r = await http.post(
        "/inbox/act",
        data={"workflow_id": "w", "step_id": "s", "action": "approve", "csrf": "bad"},
        cookies=session,
    )
    assert r.status_code == 303 and "stale" in r.headers["set-cookie"]


def test_openapi_documents_every_endpoint():
    spec = create_app(Settings(), config=CONFIG).openapi()
    ops = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()]
    assert len(ops) >= 22
    for path, method, op in ops:
        assert op.get("summary"), f"{method} {path} has no summary"
        if method == "post" and path != "/inbox/logout":
            assert op.get("requestBody"), f"{method} {path} documents no request body"
        ok = op["responses"].get("200") or op["responses"].get("303")
        assert ok and (ok.get("content") or method == "post"), f"{method} {path} documents no response"
    for name in (
        "DealClosedIn",
        "DealStarted",
        "HubSpotResult",
        "ScoreIn",
        "NpsIn",
        "BatchResult",
        "PendingItem",
        "Timeline",
        "ActResult",
        "ErrorBody",
    ):
        assert name in spec["components"]["schemas"]


async def test_feeds_refuse_bad_facts_naming_them(http):
    feed = {"Authorization": "Bearer feed-tok"}
    r = await http.post(
        "/feeds/scores/batch",
        json=[
            {"account_id": "a", "score": 80, "facts": {"revenue_generated": "lots"}},
            {"account_id": "b", "facts": {"top_campaing": "Spring"}},
        ],
        headers=feed,
    )
    res = r.json()["results"]
    assert [x["error"] for x in res] == [
        "facts.revenue_generated: money must be a number, got 'lots'",
        res[1]["error"],
    ]
    assert res[1]["error"].startswith(
        "facts.top_campaing: unknown fact 'top_campaing'; did you mean 'top_campaign'?"
    )
    r = await http.post("/feeds/scores", json={"account_id": "a", "facts": {"tier": 3}}, headers=feed)
    assert r.status_code == 422 and r.json()["error"].startswith("facts.tier: text must be a non-empty text")
