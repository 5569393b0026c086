"""Signatures: HubSpot v3 (checked against the spec's vector) and Slack v0 via slack_sdk."""

from __future__ import annotations

import json
import time
from pathlib import Path

from slack_sdk.signature import Clock, SignatureVerifier

from csrunner.interfaces.web.errors import ServiceError
from csrunner.interfaces.web.hubspot import sign_v3, verify_v3
from csrunner.interfaces.web.slack_buttons import _verify

SPECS = Path(__file__).resolve().parents[2] / "fakes" / "specs"  # copies of shared/specs
HS_DOC_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"  # HubSpot's documentation secret


def _spec(name):
    return json.loads((SPECS / name).read_text())


def test_hubspot_v3_matches_the_documented_vector():
    d = _spec("hubspot_deal_propertychange_webhook.json")["derived_closedwon_batch_NOT_official"]
    ts = d["X-HubSpot-Request-Timestamp"]
    assert sign_v3(HS_DOC_SECRET, "POST", d["uri"], d["raw_body"].encode(), ts) == d["X-HubSpot-Signature-v3"]
    now = int(ts) + 1000
    assert (
        verify_v3(
            HS_DOC_SECRET, "POST", d["uri"], d["raw_body"].encode(), d["X-HubSpot-Signature-v3"], ts, now
        )
        is None
    )


def test_hubspot_v3_refuses_forged_stale_and_missing():
    body, uri, now = b'[{"objectId":1}]', "https://svc.example/webhooks/hubspot", int(time.time() * 1000)
    good = sign_v3("s3cret", "POST", uri, body, str(now))
    assert verify_v3("s3cret", "POST", uri, body, good, str(now)) is None
    assert "bad signature" in verify_v3("s3cret", "POST", uri, body + b" ", good, str(now))
    assert "bad signature" in verify_v3("other", "POST", uri, body, good, str(now))
    old = str(now - 5 * 60 * 1000 - 1)
    assert "stale" in verify_v3("s3cret", "POST", uri, body, sign_v3("s3cret", "POST", uri, body, old), old)
    assert "missing" in verify_v3("s3cret", "POST", uri, body, None, str(now))
    assert "milliseconds" in verify_v3("s3cret", "POST", uri, body, good, "abc")
    assert "disabled" in verify_v3("", "POST", uri, body, good, str(now))


def test_hubspot_v3_decodes_the_uri_like_hubspot():
    body, ts = b"[]", str(int(time.time() * 1000))
    sig = sign_v3("k", "POST", "https://x.example/hook?a=b:c", body, ts)
    assert verify_v3("k", "POST", "https://x.example/hook?a=b%3Ac", body, sig, ts) is None


def test_slack_v0_spec_vector_and_refusals():
    d = _spec("slack_block_actions_payload.json")
    sig = d["derived_signature_NOT_official"]
    ts = sig["timestamp"]

    class Then(Clock):  # the vector's own moment
        def now(self) -> float:
            return float(ts)

    then = SignatureVerifier(sig["signing_secret"], clock=Then())
    assert then.is_valid(d["raw_body_python_quote_json_dumps"], ts, sig["X-Slack-Signature"])
    verifier = SignatureVerifier(sig["signing_secret"])
    headers = {"x-slack-request-timestamp": ts, "x-slack-signature": sig["X-Slack-Signature"]}
    try:  # the vector is from 2018: stale now
        _verify(sig["signing_secret"], d["raw_body_python_quote_json_dumps"].encode(), headers)
        raise AssertionError("stale request accepted")
    except ServiceError as e:
        assert e.status == 401 and "stale" in e.message
    now = str(int(time.time()))
    body = d["raw_body_python_quote_json_dumps"].encode()
    fresh = {
        "x-slack-request-timestamp": now,
        "x-slack-signature": verifier.generate_signature(timestamp=now, body=body),
    }
    _verify(sig["signing_secret"], body, fresh)  # no exception
    for secret, hdrs, why in [
        ("wrong", fresh, "bad signature"),
        ("", fresh, "disabled"),
        (sig["signing_secret"], {}, "missing"),
    ]:
        try:
            _verify(secret, body, hdrs)
            raise AssertionError(why)
        except ServiceError as e:
            assert e.status == 401 and why in e.message
