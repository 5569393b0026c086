"""The fakes, exercised through the real client libraries (sendgrid / python_http_client,
slack_sdk.WebClient, httpx): everything they accept and every rejection they promise."""

from __future__ import annotations

import copy
import json
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import sendgrid
from python_http_client import exceptions as sg_exc
from sendgrid.helpers.mail import CustomArg, Mail
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler

try:
    from tests.fakes import FakeHubSpot, FakeSendGrid, FakeSlack
except ImportError:  # tests/ is not a package: pytest puts tests/ itself on sys.path
    from fakes import FakeHubSpot, FakeSendGrid, FakeSlack

SPECS = Path(__file__).parent / "specs"
SG_KEY, SLACK_TOKEN, HS_TOKEN = "SG.test-key", "xoxb-test-token", "hs-test-token"


# One server per module (start/stop costs ~0.2 s); reset() between tests.
@pytest.fixture(scope="module")
def _sg_server():
    with FakeSendGrid() as fake:
        yield fake


@pytest.fixture(scope="module")
def _slack_server():
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(scope="module")
def _hs_server():
    with FakeHubSpot() as fake:
        yield fake


@pytest.fixture
def sg(_sg_server):
    _sg_server.reset()
    return _sg_server


@pytest.fixture
def slack(_slack_server):
    _slack_server.reset()
    return _slack_server


@pytest.fixture
def hs(_hs_server):
    _hs_server.clear_data()
    _hs_server.reset()
    return _hs_server


# --------------------------------------------------------------------------- lifecycle
def test_start_stop_and_url():
    fake = FakeSendGrid()
    with pytest.raises(RuntimeError):
        fake.url
    fake.start()
    try:
        assert fake.url.startswith("http://127.0.0.1:")
        assert httpx.get(fake.url + "/nope").status_code == 404
    finally:
        fake.stop()
    with pytest.raises(RuntimeError):
        fake.url


# --------------------------------------------------------------------------- SendGrid
def sg_client(sg, key=SG_KEY):
    return sendgrid.SendGridAPIClient(key, host=sg.url)


def sg_post(sg, body, key=SG_KEY):
    return sg_client(sg, key).client.mail.send.post(request_body=body)


def simple_mail(to="alex@example.com", **extra):
    body = {
        "personalizations": [{"to": [{"email": to}]}],
        "from": {"email": "cs@example.com"},
        "subject": "Welcome",
        "content": [{"type": "text/plain", "value": "Hi"}],
    }
    body.update(extra)
    return body


def test_sendgrid_accepts_mail_helper_message(sg):
    msg = Mail(
        from_email="cs@example.com",
        to_emails="alex@example.com",
        subject="Welcome",
        plain_text_content="Hi",
        html_content="<p>Hi</p>",
    )
    resp = sg_client(sg).send(msg)
    assert resp.status_code == 202 and resp.body == b""
    assert resp.headers["X-Message-Id"] == sg.message_ids[0]
    assert sg.messages == [msg.get()]
    assert len(sg.messages_to("ALEX@example.com")) == 1 and sg.messages_to("other@example.com") == []
    (req,) = sg.requests
    assert (req.method, req.path, req.status) == ("POST", "/v3/mail/send", 202)
    assert req.headers["authorization"] == f"Bearer {SG_KEY}" and req.json() == msg.get()


@pytest.mark.parametrize("name", ["MailSendDynamicTemplate", "MailSendNoTemplate"])
def test_sendgrid_accepts_official_examples(sg, name):
    example = json.loads((SPECS / "sendgrid_mail_send_examples.json").read_text())[name]["value"]
    assert sg_post(sg, example).status_code == 202
    assert sg.messages == [example]


def test_sendgrid_subject_in_every_personalization_is_enough(sg):
    body = simple_mail()
    del body["subject"]
    body["personalizations"][0]["subject"] = "Per-recipient subject"
    assert sg_post(sg, body).status_code == 202


def test_sendgrid_missing_personalizations_is_400(sg):
    body = simple_mail()
    del body["personalizations"]
    with pytest.raises(sg_exc.BadRequestsError) as ei:
        sg_post(sg, body)
    assert ei.value.status_code == 400
    errors = ei.value.to_dict["errors"]
    assert [e["field"] for e in errors] == ["personalizations"]
    assert set(errors[0]) == {"message", "field", "help"}
    assert sg.messages == [] and sg.requests[0].status == 400


def _mutate(fn):
    body = simple_mail()
    fn(body)
    return body


def _many_recipients(b):  # 1001 recipients spread over 2 personalizations
    b["personalizations"] = [
        {"to": [{"email": f"u{i}@example.com"} for i in range(500)]},
        {"to": [{"email": f"v{i}@example.com"} for i in range(501)]},
    ]


def _many_personalizations(b):
    b["personalizations"] = [{"to": [{"email": f"u{i}@example.com"}]} for i in range(1001)]


REJECTIONS = {
    "empty personalizations": (lambda b: b.update(personalizations=[]), "personalizations"),
    "personalization without to": (lambda b: b["personalizations"][0].pop("to"), "personalizations.0.to"),
    "empty to": (lambda b: b["personalizations"][0].update(to=[]), "personalizations.0.to"),
    "missing from": (lambda b: b.pop("from"), "from.email"),
    "bad from address": (lambda b: b.update({"from": {"email": "not-an-email"}}), "from.email"),
    "bad recipient address": (
        lambda b: b["personalizations"][0].update(to=[{"email": "a@b"}]),
        "personalizations.0.to.0.email",
    ),
    "recipient without email": (
        lambda b: b["personalizations"][0].update(to=[{"name": "A"}]),
        "personalizations.0.to.0.email",
    ),
    "no subject anywhere": (lambda b: b.pop("subject"), "subject"),
    "empty subject": (lambda b: b.update(subject=""), "subject"),
    "no content nor template": (lambda b: b.pop("content"), "content"),
    "empty content value": (
        lambda b: b.update(content=[{"type": "text/plain", "value": ""}]),
        "content.0.value",
    ),
    "html before plain": (
        lambda b: b.update(
            content=[{"type": "text/html", "value": "<p>x</p>"}, {"type": "text/plain", "value": "x"}]
        ),
        "content",
    ),
    "duplicate to/cc": (
        lambda b: b["personalizations"][0].update(cc=[{"email": "Alex@example.com"}]),
        "personalizations.0",
    ),
    "duplicate across personalizations": (
        lambda b: b["personalizations"].append({"to": [{"email": "alex@example.com"}]}),
        "personalizations",
    ),
    "over 1000 recipients": (_many_recipients, "personalizations"),
    "over 1000 personalizations": (_many_personalizations, "personalizations"),
    "name with comma": (
        lambda b: b["personalizations"][0]["to"][0].update(name="Doe, Jane"),
        "personalizations.0.to.0.name",
    ),
    "custom_args as string": (lambda b: b.update(custom_args="k=v"), "custom_args"),
    "custom_args non-string value": (
        lambda b: b["personalizations"][0].update(custom_args={"n": 1}),
        "personalizations.0.custom_args.n",
    ),
    "more than 10 categories": (lambda b: b.update(categories=[f"c{i}" for i in range(11)]), "categories"),
    "attachment not base64": (
        lambda b: b.update(attachments=[{"content": "not base64!", "filename": "a.txt"}]),
        "attachments.0.content",
    ),
    "bad disposition": (
        lambda b: b.update(attachments=[{"content": "eA==", "filename": "a", "disposition": "x"}]),
        "attachments.0.disposition",
    ),
    "asm without group_id": (lambda b: b.update(asm={}), "asm.group_id"),
    "send_at not integer": (lambda b: b.update(send_at="tomorrow"), "send_at"),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
def test_sendgrid_rejects_documented_errors(sg, case):
    mutate, field = REJECTIONS[case]
    with pytest.raises(sg_exc.BadRequestsError) as ei:
        sg_post(sg, _mutate(mutate))
    assert field in [e["field"] for e in ei.value.to_dict["errors"]], ei.value.to_dict
    assert sg.messages == []


def test_sendgrid_custom_args_type_error_uses_sendgrid_wording(sg):
    with pytest.raises(sg_exc.BadRequestsError) as ei:
        sg_post(sg, simple_mail(custom_args="k=v"))
    assert ei.value.to_dict["errors"][0]["message"] == "Invalid type. Expected: object, given: string."


def test_sendgrid_wrong_or_missing_key_is_401(sg):
    with pytest.raises(sg_exc.UnauthorizedError) as ei:
        sg_post(sg, simple_mail(), key="SG.wrong")
    (err,) = ei.value.to_dict["errors"]
    assert err["field"] is None and err["help"] is None and err["message"]
    resp = httpx.post(sg.url + "/v3/mail/send", json=simple_mail())  # no Authorization header
    assert resp.status_code == 401 and resp.json()["errors"][0]["message"] == "authorization required"
    assert sg.messages == []


def test_sendgrid_429_then_recovers(sg):
    sg.fail_next(429, headers={"Retry-After": "7"})
    with pytest.raises(sg_exc.TooManyRequestsError) as ei:
        sg_post(sg, simple_mail())
    assert ei.value.status_code == 429 and ei.value.headers["Retry-After"] == "7"
    assert ei.value.headers["X-RateLimit-Remaining"] == "0"
    assert ei.value.to_dict == {"errors": [{"message": "too many requests", "field": None, "help": None}]}
    assert sg_post(sg, simple_mail()).status_code == 202
    assert [r.status for r in sg.requests] == [429, 202] and len(sg.messages) == 1


@pytest.mark.parametrize(
    "status,exc", [(500, sg_exc.InternalServerError), (503, sg_exc.ServiceUnavailableError)]
)
def test_sendgrid_server_errors_times(sg, status, exc):
    sg.fail_next(status, times=2, body={"errors": [{"message": "boom", "field": None}]})
    for _ in range(2):
        with pytest.raises(exc) as ei:
            sg_post(sg, simple_mail())
        assert ei.value.to_dict["errors"][0]["message"] == "boom"
    assert sg_post(sg, simple_mail()).status_code == 202


def test_sendgrid_rate_limit_then_an_outage_window_then_recovered(sg):
    sg.fail_next(429)
    sg.fail_for(500, seconds=1.5)
    with pytest.raises(sg_exc.TooManyRequestsError) as ei:
        sg_post(sg, simple_mail())
    assert int(ei.value.headers["X-RateLimit-Reset"]) > time.time()  # a Unix time, as SendGrid sends it
    for _ in range(3):  # the window answers every request while it lasts
        with pytest.raises(sg_exc.InternalServerError):
            sg_post(sg, simple_mail())
    time.sleep(1.6)
    assert sg_post(sg, simple_mail()).status_code == 202
    requests = sg.requests
    assert [r.status for r in requests] == [429, 500, 500, 500, 202]
    assert [r.received_at for r in requests] == sorted(r.received_at for r in requests)


def test_sendgrid_reject_address(sg):
    sg.reject_address("Bounce@Example.com")
    with pytest.raises(sg_exc.BadRequestsError) as ei:
        sg_post(sg, simple_mail(to="bounce@example.com"))
    assert ei.value.to_dict["errors"] == [
        {
            "message": "Does not contain a valid address.",
            "field": "personalizations.0.to.0.email",
            "help": None,
        }
    ]
    assert sg_post(sg, simple_mail(to="ok@example.com")).status_code == 202


def test_sendgrid_counts_custom_args(sg):
    for key, per_personalization in [("k1", False), ("k1", True), ("k2", False)]:
        msg = Mail(
            from_email="cs@example.com", to_emails="alex@example.com", subject="s", plain_text_content="x"
        )
        msg.custom_arg = CustomArg("idempotency_key", key, p=0 if per_personalization else None)
        sg_client(sg).send(msg)
    assert sg.custom_arg_values("idempotency_key") == Counter({"k1": 2, "k2": 1})
    assert sg.count_custom_arg("idempotency_key") == 3
    assert sg.count_custom_arg("idempotency_key", "k1") == 2
    assert sg.count_custom_arg("other") == 0


@pytest.mark.asyncio
async def test_sendgrid_from_async_code(sg):
    async with httpx.AsyncClient(base_url=sg.url, headers={"Authorization": f"Bearer {SG_KEY}"}) as client:
        resp = await client.post("/v3/mail/send", json=simple_mail())
    assert resp.status_code == 202 and resp.headers["x-message-id"]
    assert len(sg.messages) == 1


# --------------------------------------------------------------------------- Slack
def slack_client(slack, token=SLACK_TOKEN, **kw):
    return WebClient(token=token, base_url=slack.url + "/api/", **kw)


def section(text):
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text="Go", action_id="a", value="v"):
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": text},
                "action_id": action_id,
                "value": value,
            }
        ],
    }


def test_slack_post_message_json(slack):
    blocks = [section("*Hello*"), button()]
    resp = slack_client(slack).chat_postMessage(channel="C123", text="Hello", blocks=blocks)
    assert resp["ok"] and resp["channel"] == "C123"
    assert resp["message"]["text"] == "Hello" and resp["message"]["blocks"] == blocks
    (msg,) = slack.messages
    assert (msg["channel"], msg["ts"], msg["text"], msg["blocks"]) == ("C123", resp["ts"], "Hello", blocks)
    assert slack.requests[0].headers["content-type"].startswith("application/json")


def test_slack_ts_unique(slack):
    client = slack_client(slack)
    tss = {client.chat_postMessage(channel="C1", text=str(i))["ts"] for i in range(5)}
    assert len(tss) == 5 and all("." in ts for ts in tss)


def test_slack_form_encoded(slack):
    blocks = [section("from a form")]
    resp = slack_client(slack).api_call(
        "chat.postMessage", params={"channel": "#general", "text": "hi", "blocks": json.dumps(blocks)}
    )
    assert resp["ok"] and resp["channel"].startswith("C")  # Slack answers with an id for '#name'
    assert slack.requests[0].headers["content-type"] == "application/x-www-form-urlencoded"
    assert slack.messages[0]["blocks"] == blocks
    assert slack.messages_in("#general")[0]["ts"] == resp["ts"]


def test_slack_token_as_form_field(slack):
    resp = httpx.post(
        slack.url + "/api/chat.postMessage", data={"token": SLACK_TOKEN, "channel": "C1", "text": "x"}
    )
    assert resp.json()["ok"] and "authorization" not in slack.requests[0].headers


@pytest.mark.parametrize("token,error", [(None, "not_authed"), ("xoxb-wrong", "invalid_auth")])
def test_slack_auth_errors(slack, token, error):
    with pytest.raises(SlackApiError) as ei:
        slack_client(slack, token=token).chat_postMessage(channel="C1", text="x")
    assert ei.value.response.status_code == 200 and ei.value.response["error"] == error
    assert slack.messages == []


def test_slack_token_in_json_body_is_ignored(slack):
    resp = httpx.post(
        slack.url + "/api/chat.postMessage", json={"token": SLACK_TOKEN, "channel": "C1", "text": "x"}
    )
    assert resp.status_code == 200 and resp.json() == {"ok": False, "error": "not_authed"}


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
@pytest.mark.parametrize(
    "kwargs,error",
    [
        ({"channel": "nonsense", "text": "x"}, "channel_not_found"),
        ({"channel": "", "text": "x"}, "channel_not_found"),
        ({"channel": "C1"}, "no_text"),
        ({"channel": "C1", "text": "", "blocks": []}, "no_text"),
    ],
)
def test_slack_post_errors(slack, kwargs, error):
    with pytest.raises(SlackApiError) as ei:
        slack_client(slack).chat_postMessage(**kwargs)
    assert ei.value.response["error"] == error


BLOCK_LIMITS = {  # name: (blocks at the limit, blocks one past it)
    "section text 3000": ([section("x" * 3000)], [section("x" * 3001)]),
    "50 blocks": ([section("x")] * 50, [section("x")] * 51),
    "button text 75": ([button(text="b" * 75)], [button(text="b" * 76)]),
    "action_id 255": ([button(action_id="a" * 255)], [button(action_id="a" * 256)]),
    "button value 2000": ([button(value="v" * 2000)], [button(value="v" * 2001)]),
}


@pytest.mark.parametrize("case", list(BLOCK_LIMITS))
def test_slack_block_kit_limits(slack, case):
    ok_blocks, bad_blocks = BLOCK_LIMITS[case]
    client = slack_client(slack)
    assert client.chat_postMessage(channel="C1", text="t", blocks=ok_blocks)["ok"]
    with pytest.raises(SlackApiError) as ei:
        client.chat_postMessage(channel="C1", text="t", blocks=bad_blocks)
    assert ei.value.response["error"] == "invalid_blocks"
    assert "json-pointer:/blocks" in ei.value.response["errors"][0]
    assert len(slack.messages) == 1


def test_slack_invalid_blocks_format(slack):
    with pytest.raises(SlackApiError) as ei:
        slack_client(slack).api_call("chat.postMessage", params={"channel": "C1", "blocks": "{not json"})
    assert ei.value.response["error"] == "invalid_blocks_format"


def test_slack_update(slack):
    client = slack_client(slack)
    posted = client.chat_postMessage(channel="C1", text="v1", blocks=[section("v1")])
    resp = client.chat_update(channel="C1", ts=posted["ts"], text="v2", blocks=[section("v2")])
    assert resp["ok"] and resp["ts"] == posted["ts"] and resp["text"] == "v2"
    (msg,) = slack.messages
    assert msg["text"] == "v2" and msg["blocks"] == [section("v2")]
    assert slack.updates == [
        {
            "channel": "C1",
            "ts": posted["ts"],
            "text": "v2",
            "blocks": [section("v2")],
            "args": {"channel": "C1", "ts": posted["ts"], "text": "v2", "blocks": [section("v2")]},
        }
    ]
    client.chat_update(channel="C1", ts=posted["ts"], text="v3")  # blocks omitted: kept
    assert slack.messages[0]["text"] == "v3" and slack.messages[0]["blocks"] == [section("v2")]


@pytest.mark.parametrize(
    "channel,ts,error",
    [
        ("C1", "1.000001", "message_not_found"),
        ("C999", None, "message_not_found"),
        ("bogus", None, "channel_not_found"),
    ],
)
def test_slack_update_errors(slack, channel, ts, error):
    posted = slack_client(slack).chat_postMessage(channel="C1", text="v1")
    with pytest.raises(SlackApiError) as ei:
        slack_client(slack).chat_update(channel=channel, ts=ts or posted["ts"], text="v2")
    assert ei.value.response["error"] == error
    assert slack.updates == [] and slack.messages[0]["text"] == "v1"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_slack_update_invalid_blocks(slack):
    posted = slack_client(slack).chat_postMessage(channel="C1", text="v1")
    with pytest.raises(SlackApiError) as ei:
        slack_client(slack).chat_update(channel="C1", ts=posted["ts"], blocks=[section("x" * 3001)])
    assert ei.value.response["error"] == "invalid_blocks"


def test_slack_ratelimited(slack):
    slack.fail_next(429, retry_after=1)
    with pytest.raises(SlackApiError) as ei:
        slack_client(slack).chat_postMessage(channel="C1", text="x")
    resp = ei.value.response
    assert resp.status_code == 429 and resp.headers["Retry-After"] in ("1", ["1"])
    assert resp.data == {"ok": False, "error": "ratelimited"}
    assert slack.messages == []


def test_slack_ratelimit_retry_handler_recovers(slack):
    slack.fail_next(429, retry_after=0)
    client = slack_client(slack, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    assert client.chat_postMessage(channel="C1", text="x")["ok"]
    assert [r.status for r in slack.requests] == [429, 200] and len(slack.messages) == 1


def test_slack_server_error_and_api_error_injection(slack):
    slack.fail_next(500)
    with pytest.raises(SlackApiError) as ei:
        slack_client(slack).chat_postMessage(channel="C1", text="x")
    assert ei.value.response.status_code == 500
    slack.fail_next(200, error="is_archived")
    with pytest.raises(SlackApiError) as ei:
        slack_client(slack).chat_postMessage(channel="C1", text="x")
    assert ei.value.response["error"] == "is_archived"


def test_slack_auth_test_and_users(slack):
    client = slack_client(slack)
    assert client.auth_test()["user_id"] == FakeSlack.BOT_USER_ID
    with pytest.raises(SlackApiError) as ei:
        client.users_info(user="U404")
    assert ei.value.response["error"] == "user_not_found"


def test_slack_configured_channels_and_users():
    users = [{"id": "U1", "name": "jane", "real_name": "Jane Doe", "email": "jane@example.com"}]
    with FakeSlack(token="xoxb-other", channels=["C1", "#cs-team"], users=users) as fake:
        client = WebClient(token="xoxb-other", base_url=fake.url + "/api/")
        user = client.users_info(user="U1")["user"]
        assert user["profile"]["email"] == "jane@example.com" and user["real_name"] == "Jane Doe"
        assert client.chat_postMessage(channel="C1", text="x")["ok"]
        assert client.chat_postMessage(channel="#cs-team", text="x")["ok"]
        for channel in ("C2", "#random"):
            with pytest.raises(SlackApiError) as ei:
                client.chat_postMessage(channel=channel, text="x")
            assert ei.value.response["error"] == "channel_not_found"


@pytest.mark.asyncio
async def test_slack_from_async_code(slack):
    async with httpx.AsyncClient(base_url=slack.url) as client:
        resp = await client.post(
            "/api/chat.postMessage",
            json={"channel": "C1", "text": "hi"},
            headers={"Authorization": f"Bearer {SLACK_TOKEN}"},
        )
    assert resp.json()["ok"] and slack.messages[0]["text"] == "hi"


# --------------------------------------------------------------------------- HubSpot
def hs_client(hs, token=HS_TOKEN):
    return httpx.Client(base_url=hs.url, headers={"Authorization": f"Bearer {token}"} if token else {})


def seed(hs):
    hs.add_company("301", {"name": "Acme", "domain": "acme.example"})
    hs.add_contact(
        "101",
        {
            "email": "jane@acme.example",
            "firstname": "Jane",
            "lastname": "Doe",
            "hs_language": "de",
            "jobtitle": "COO",
            "hs_buying_role": "DECISION_MAKER",
        },
    )
    hs.add_contact("102", {"email": "bob@acme.example", "firstname": "Bob", "lastname": "Roe"})
    hs.add_deal(
        "201",
        {"dealname": "Acme renewal", "amount": 12000, "dealstage": "closedwon", "hubspot_owner_id": "501"},
        company_id="301",
        contact_ids=["101", "102"],
    )
    hs.add_owner("501", "owner@example.com", "Olive", "Owner")


def test_hubspot_get_deal_default_properties(hs):
    seed(hs)
    with hs_client(hs) as c:
        deal = c.get("/crm/v3/objects/deals/201").json()
    assert deal["id"] == "201" and deal["archived"] is False and "associations" not in deal
    assert deal["properties"]["amount"] == "12000"  # HubSpot returns strings
    assert deal["properties"]["dealname"] == "Acme renewal"
    assert "hubspot_owner_id" not in deal["properties"]  # not a default property
    assert {"createdAt", "updatedAt"} <= set(deal)


def test_hubspot_get_deal_properties_and_associations(hs):
    seed(hs)
    with hs_client(hs) as c:
        resp = c.get(
            "/crm/v3/objects/deals/201",
            params={
                "properties": "dealname,hubspot_owner_id,closedate",
                "associations": "companies,contacts",
            },
        )
    deal = resp.json()
    assert resp.status_code == 200
    assert deal["properties"]["hubspot_owner_id"] == "501" and deal["properties"]["closedate"] is None
    assert "amount" not in deal["properties"] and deal["properties"]["hs_object_id"] == "201"
    assert deal["associations"] == {
        "companies": {"results": [{"id": "301", "type": "deal_to_company"}]},
        "contacts": {
            "results": [{"id": "101", "type": "deal_to_contact"}, {"id": "102", "type": "deal_to_contact"}]
        },
    }
    assert hs.requests[0].query == {
        "properties": ["dealname,hubspot_owner_id,closedate"],
        "associations": ["companies,contacts"],
    }


def test_hubspot_get_company_contact_owner(hs):
    seed(hs)
    with hs_client(hs) as c:
        company = c.get("/crm/v3/objects/companies/301", params={"associations": "contacts,deals"}).json()
        contact = c.get(
            "/crm/v3/objects/contacts/101",
            params=[
                ("properties", "email,firstname,lastname"),
                ("properties", "hs_language,jobtitle,hs_buying_role"),
            ],
        ).json()
        owner = c.get("/crm/v3/owners/501").json()
    assert company["properties"]["name"] == "Acme"
    assert company["associations"]["deals"]["results"] == [{"id": "201", "type": "company_to_deal"}]
    assert (
        contact["properties"]["hs_language"] == "de"
        and contact["properties"]["hs_buying_role"] == "DECISION_MAKER"
    )
    assert (owner["id"], owner["email"], owner["firstName"], owner["lastName"]) == (
        "501",
        "owner@example.com",
        "Olive",
        "Owner",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/crm/v3/objects/deals/999",
        "/crm/v3/objects/contacts/999",
        "/crm/v3/objects/companies/999",
        "/crm/v3/owners/999",
    ],
)
def test_hubspot_unknown_ids_404(hs, path):
    seed(hs)
    with hs_client(hs) as c:
        resp = c.get(path)
    body = resp.json()
    assert resp.status_code == 404
    assert body["status"] == "error" and body["category"] == "OBJECT_NOT_FOUND" and body["correlationId"]


@pytest.mark.parametrize("token", [None, "wrong"])
def test_hubspot_auth(hs, token):
    seed(hs)
    with hs_client(hs, token=token) as c:
        resp = c.get("/crm/v3/objects/deals/201")
    body = resp.json()
    assert resp.status_code == 401
    assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
    assert body["message"] and body["correlationId"]


def task_body(**props):
    schema_doc = json.loads((SPECS / "hubspot_tasks_create_schema.json").read_text())
    body = copy.deepcopy(schema_doc["doc_example_request_body"])  # HubSpot's documented example
    body["properties"]["hubspot_owner_id"] = "501"
    body["properties"].update(props)
    return body


def test_hubspot_create_task_doc_example(hs):
    seed(hs)
    with hs_client(hs) as c:
        resp = c.post("/crm/v3/objects/tasks", json=task_body())
    task = resp.json()
    assert resp.status_code == 201 and task["id"] and task["archived"] is False
    assert task["properties"]["hs_task_subject"] == "Follow-up for Brian Buyer"
    (recorded,) = hs.tasks
    assert recorded["id"] == task["id"] and [a["to"]["id"] for a in recorded["associations"]] == [101, 102]


TASK_REJECTIONS = {
    "no associations (required by schema)": lambda b: b.pop("associations"),
    "non-string property value": lambda b: b["properties"].update(hs_task_priority=3),
    "bad associationCategory": lambda b: b["associations"][0]["types"][0].update(associationCategory="NOPE"),
    "association without types": lambda b: b["associations"][0].pop("types"),
    "missing hs_timestamp": lambda b: b["properties"].pop("hs_timestamp"),
    "bad hs_timestamp": lambda b: b["properties"].update(hs_timestamp="next tuesday"),
    "bad status": lambda b: b["properties"].update(hs_task_status="DONE"),
    "bad type": lambda b: b["properties"].update(hs_task_type="FAX"),
    "unknown owner": lambda b: b["properties"].update(hubspot_owner_id="999"),
    "associated contact missing": lambda b: b["associations"][0]["to"].update(id="999"),
    "unknown HUBSPOT_DEFINED type": lambda b: b["associations"][0]["types"][0].update(associationTypeId=1),
}


@pytest.mark.parametrize("case", list(TASK_REJECTIONS))
def test_hubspot_create_task_rejections(hs, case):
    seed(hs)
    body = task_body()
    TASK_REJECTIONS[case](body)
    with hs_client(hs) as c:
        resp = c.post("/crm/v3/objects/tasks", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["category"] == "VALIDATION_ERROR" and resp.json()["status"] == "error"
    assert hs.tasks == []


def test_hubspot_task_accepts_epoch_ms_and_deal_association(hs):
    seed(hs)
    body = {
        "properties": {"hs_timestamp": "1717171717000", "hs_task_subject": "Kickoff", "hs_task_type": "TODO"},
        "associations": [
            {
                "to": {"id": "201"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 216}],
            }
        ],
    }
    with hs_client(hs) as c:
        assert c.post("/crm/v3/objects/tasks", json=body).status_code == 201


def test_hubspot_fail_next(hs):
    seed(hs)
    hs.fail_next(429, times=2, headers={"Retry-After": "1"})
    with hs_client(hs) as c:
        statuses = [c.get("/crm/v3/objects/deals/201") for _ in range(3)]
    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].headers["retry-after"] == "1" and statuses[0].json()["errorType"] == "RATE_LIMIT"
    hs.fail_next(503)
    with hs_client(hs) as c:
        assert c.get("/crm/v3/owners/501").status_code == 503
    assert [r.status for r in hs.requests] == [429, 429, 200, 503]


@pytest.mark.asyncio
async def test_hubspot_from_async_code(hs):
    seed(hs)
    async with httpx.AsyncClient(base_url=hs.url, headers={"Authorization": f"Bearer {HS_TOKEN}"}) as c:
        resp = await c.get("/crm/v3/objects/contacts/102")
    assert resp.json()["properties"]["firstname"] == "Bob"


def _modal(**over):
    view = {
        "type": "modal",
        "callback_id": "edit-email",
        "private_metadata": '{"run": "r", "step": "s"}',
        "title": {"type": "plain_text", "text": "Edit and approve"},
        "submit": {"type": "plain_text", "text": "Approve"},
        "blocks": [
            {
                "type": "input",
                "block_id": "note",
                "label": {"type": "plain_text", "text": "Personal note"},
                "element": {"type": "plain_text_input", "action_id": "value", "initial_value": "Hi"},
            }
        ],
    }
    return {**view, **over}


def test_slack_views_open_validates_the_modal_and_builds_its_submission(slack):
    client = WebClient("xoxb-test-token", base_url=slack.url + "/api/")
    opened = client.views_open(trigger_id="1.2.abc", view=_modal())["view"]
    assert (opened["type"], opened["callback_id"]) == ("modal", "edit-email")
    payload = slack.view_submission(opened["id"], "U1", {"note": "Happy to help"})
    assert payload["type"] == "view_submission"
    assert payload["view"]["private_metadata"] == '{"run": "r", "step": "s"}'
    assert payload["view"]["state"]["values"] == {
        "note": {"value": {"type": "plain_text_input", "value": "Happy to help"}}
    }
    with pytest.raises(SlackApiError) as reused:
        client.views_open(trigger_id="1.2.abc", view=_modal())
    assert reused.value.response["error"] == "exchanged_trigger_id"
    for bad, pointer in (
        (_modal(title={"type": "plain_text", "text": "Edit the email and approve it"}), "/view/title/text"),
        (_modal(submit=None), "/view/submit"),
        (_modal(private_metadata="x" * 3001), "/view/private_metadata"),
        (
            _modal(
                blocks=[
                    {
                        "type": "input",
                        "block_id": "n",
                        "label": {"type": "plain_text", "text": "N"},
                        "element": {
                            "type": "plain_text_input",
                            "action_id": "v",
                            "max_length": 5,
                            "initial_value": "too long",
                        },
                    }
                ]
            ),
            "/view/blocks/0/element/initial_value",
        ),
    ):
        with pytest.raises(SlackApiError) as refused:
            client.views_open(trigger_id=f"t-{pointer}", view=bad)
        assert refused.value.response["error"] == "invalid_arguments"
        assert pointer in " ".join(refused.value.response["errors"])
    with pytest.raises(SlackApiError) as no_trigger:
        client.views_open(trigger_id="", view=_modal())
    assert no_trigger.value.response["error"] == "invalid_trigger_id"
