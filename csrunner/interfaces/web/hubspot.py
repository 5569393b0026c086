"""HubSpot's webhook v3 signature. The CRM reads that turn a deal into an account are the deal
intake's (activities/hubspot.py, csrunner/config/hubspot_deals.py), not the request's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

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
