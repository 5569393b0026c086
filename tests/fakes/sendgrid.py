"""Fake SendGrid v3 Mail Send API (`POST /v3/mail/send`).

Validates the body against the OpenAPI request schema from twilio/sendgrid-oai
(specs/sendgrid_mail_send_schema.json) plus the rules SendGrid documents on its
"Mail Send errors" and "limitations" pages, using SendGrid's own error messages.

Use with the real client:  sendgrid.SendGridAPIClient(api_key, host=fake.url)
"""

from __future__ import annotations

import base64
import binascii
import copy
import gzip
import json
import re
import secrets
import time
from collections import Counter
from typing import Any

from jsonschema import Draft202012Validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._server import FakeServer, bearer_token, json_response, load_spec

MAX_BODY_BYTES = 30 * 1024 * 1024  # "total size incl. attachments < 30 MB"
MAX_RECIPIENTS = 1000
MAX_CUSTOM_ARGS_BYTES = 10_000

# Pragmatic RFC 5321 address check: ASCII local part, dotted domain with a TLD.
_EMAIL_RE = re.compile(
    r"^(?!\.)(?!.*\.\.)[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}(?<!\.)"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)

_FROM_REQUIRED = (
    "The from object must be provided for every email send. It is an object that requires the "
    'email parameter, but may also contain a name parameter.  e.g. {"email" : "example@example.com"}  '
    'or {"email" : "example@example.com", "name" : "Example Recipient"}.'
)


def _build_validator() -> Draft202012Validator:
    spec = load_spec("sendgrid_mail_send_schema.json")
    schema = copy.deepcopy(spec["requestBodies"]["PostMailSend"]["content"]["application/json"]["schema"])
    # The OAI spec types top-level custom_args as a string, but the live API answers a string
    # with "Invalid type. Expected: object, given: string." and sendgrid-python sends an object.
    # Custom-arg values must be strings at both levels.
    string_map = {"type": "object", "additionalProperties": {"type": "string"}}
    schema["properties"]["custom_args"] = string_map
    schema["properties"]["personalizations"]["items"]["properties"]["custom_args"].update(string_map)
    schema["components"] = {"schemas": spec["schemas"]}  # so "#/components/schemas/X" resolves
    # 2020-12 so that $ref siblings (e.g. attachments.disposition enum) are honoured.
    return Draft202012Validator(schema)


_VALIDATOR = _build_validator()
_JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}


def _err(message: str, field: str | None = None) -> dict:
    return {"message": message, "field": field, "help": None}


def _field(path) -> str | None:
    return ".".join(str(p) for p in path) or None


def schema_errors(body: Any) -> list[dict]:
    out = []
    for e in sorted(_VALIDATOR.iter_errors(body), key=lambda e: list(map(str, e.absolute_path))):
        if e.validator == "type":  # SendGrid's wording for type mismatches
            expected = (
                e.validator_value if isinstance(e.validator_value, str) else "/".join(e.validator_value)
            )
            msg = (
                f"Invalid type. Expected: {expected}, given: {_JSON_TYPES.get(type(e.instance), 'unknown')}."
            )
            path = list(e.absolute_path)
        elif e.validator == "required":  # point at the missing property itself
            msg, path = e.message, [*e.absolute_path, re.match(r"'(.*)' is a required", e.message).group(1)]
        else:
            msg, path = e.message, list(e.absolute_path)
        out.append(_err(msg, _field(path)))
    return out


def _recipients(p: dict):
    """(kind, index, address-object) for to/cc/bcc of one personalization."""
    for kind in ("to", "cc", "bcc"):
        items = p.get(kind)
        if isinstance(items, list):
            for j, r in enumerate(items):
                if isinstance(r, dict):
                    yield kind, j, r


def documented_errors(body: dict, rejected: set[str]) -> list[dict]:
    """The rules from SendGrid's Mail Send errors/limitations docs that the schema can't express."""
    errors: list[dict] = []
    ps = body.get("personalizations")
    if not isinstance(ps, list) or not ps:
        errors.append(
            _err(
                "The personalizations field is required and must have at least one personalization.",
                "personalizations",
            )
        )
        ps = []
    elif len(ps) > 1000:
        errors.append(
            _err(
                f"The personalization block is limited to 1000 personalizations per API request. "
                f"You have provided {len(ps)} personalizations. Please consider splitting this into "
                f"multiple requests and resending your request.",
                "personalizations",
            )
        )

    frm = body.get("from")
    if not isinstance(frm, dict) or not frm.get("email"):
        errors.append(_err(_FROM_REQUIRED, "from.email"))
    elif isinstance(frm["email"], str) and not _EMAIL_RE.match(frm["email"]):
        errors.append(_err("The from email does not contain a valid address.", "from.email"))

    total, seen_overall = 0, set()
    for i, p in enumerate(ps):
        if not isinstance(p, dict):
            continue
        if not isinstance(p.get("to"), list) or not p["to"]:
            errors.append(
                _err(
                    "The to array is required for all personalization objects, and must have at "
                    "least one email object with a valid email address.",
                    f"personalizations.{i}.to",
                )
            )
        pfrom = p.get("from")
        if (
            isinstance(pfrom, dict)
            and isinstance(pfrom.get("email"), str)
            and not _EMAIL_RE.match(pfrom["email"])
        ):
            errors.append(
                _err("The from email does not contain a valid address.", f"personalizations.{i}.from.email")
            )
        seen_here = set()
        for kind, j, r in _recipients(p):
            total += 1
            addr = r.get("email")
            where = f"personalizations.{i}.{kind}.{j}"
            if not isinstance(addr, str) or not _EMAIL_RE.match(addr) or addr.lower() in rejected:
                errors.append(_err("Does not contain a valid address.", f"{where}.email"))
                continue
            name = r.get("name")
            if isinstance(name, str) and (";" in name or "," in name):
                errors.append(_err(f"The {kind} name must not contain ';' or ','.", f"{where}.name"))
            key = addr.lower()
            if key in seen_here:
                errors.append(
                    _err(
                        f"Each email address in the personalization block should be unique between "
                        f"to, cc, and bcc. We found the first duplicate instance of [{addr}] in the "
                        f"personalizations.{i}.{kind} field.",
                        f"personalizations.{i}",
                    )
                )
            elif key in seen_overall:
                errors.append(
                    _err(
                        f"Each unique email address in the personalizations array should only be "
                        f"included once. You have included {addr} more than once.",
                        "personalizations",
                    )
                )
            seen_here.add(key)
            seen_overall.add(key)
        custom = {**_as_dict(body.get("custom_args")), **_as_dict(p.get("custom_args"))}
        if len(json.dumps(custom).encode()) >= MAX_CUSTOM_ARGS_BYTES:
            errors.append(
                _err(
                    "The total size of custom_args may not exceed 10,000 bytes.",
                    f"personalizations.{i}.custom_args",
                )
            )
    if total > MAX_RECIPIENTS:
        errors.append(
            _err("There is a limit of 1000 total recipients (to + cc + bcc) per request.", "personalizations")
        )

    has_template = bool(body.get("template_id"))
    if (
        not has_template
        and not body.get("subject")
        and not (ps and all(isinstance(p, dict) and p.get("subject") for p in ps))
    ):
        errors.append(
            _err(
                "The subject is required. You can get around this requirement if you use a template "
                "with a subject defined or if every personalization has a subject defined.",
                "subject",
            )
        )

    content = body.get("content")
    if not has_template and (not isinstance(content, list) or not content):
        errors.append(
            _err(
                "Unless a valid template_id is provided, the content parameter is required. There must "
                "be at least one defined content block. We typically suggest both text/plain and "
                "text/html blocks are included, but only one block is required.",
                "content",
            )
        )
    if isinstance(content, list):
        for k, c in enumerate(content):
            if isinstance(c, dict) and (not isinstance(c.get("value"), str) or not c["value"]):
                errors.append(
                    _err(
                        "The content value must be a string at least one character in length.",
                        f"content.{k}.value",
                    )
                )
        types = [c.get("type") for c in content if isinstance(c, dict)]
        order = {"text/plain": 0, "text/html": 1}
        ranks = [order.get(t, 2) for t in types]
        if ranks != sorted(ranks) or types.count("text/plain") > 1 or types.count("text/html") > 1:
            errors.append(
                _err(
                    "If present, text/plain and text/html may only be provided once, and text/plain "
                    "must be first, followed by text/html, followed by any other content.",
                    "content",
                )
            )

    for k, a in enumerate(body.get("attachments") or []):
        if isinstance(a, dict) and isinstance(a.get("content"), str):
            try:
                base64.b64decode(a["content"], validate=True)
            except (binascii.Error, ValueError):
                errors.append(
                    _err("The attachment content must be base64 encoded.", f"attachments.{k}.content")
                )
    return errors


def _as_dict(v) -> dict:
    return v if isinstance(v, dict) else {}


class FakeSendGrid(FakeServer):
    """`with FakeSendGrid() as sg: SendGridAPIClient("SG.test-key", host=sg.url)`."""

    def __init__(self, api_key: str = "SG.test-key") -> None:
        super().__init__()
        self.api_key = api_key
        self._messages: list[dict] = []
        self._message_ids: list[str] = []
        self._rejected: set[str] = set()

    # ---- test-facing API ---------------------------------------------------
    @property
    def messages(self) -> list[dict]:
        """Accepted (202) request bodies, oldest first."""
        with self._lock:
            return copy.deepcopy(self._messages)

    @property
    def message_ids(self) -> list[str]:
        """X-Message-Id returned for each accepted message (parallel to .messages)."""
        with self._lock:
            return list(self._message_ids)

    def reject_address(self, email: str) -> None:
        """Make any request with this recipient fail like SendGrid's invalid-address 400."""
        with self._lock:
            self._rejected.add(email.lower())

    def messages_to(self, email: str) -> list[dict]:
        """Accepted messages with `email` among to/cc/bcc of any personalization."""
        email = email.lower()
        return [
            m
            for m in self.messages
            if any(
                r.get("email", "").lower() == email
                for p in m["personalizations"]
                for _, _, r in _recipients(p)
            )
        ]

    def custom_arg_values(self, key: str) -> Counter:
        """Counter of value -> number of accepted messages carrying custom_args[key]
        (message level or any personalization; a message counts once per value)."""
        counts: Counter = Counter()
        for m in self.messages:
            values = {p["custom_args"][key] for p in m["personalizations"] if key in p.get("custom_args", {})}
            if key in m.get("custom_args", {}):
                values.add(m["custom_args"][key])
            counts.update(values)
        return counts

    def count_custom_arg(self, key: str, value: str | None = None) -> int:
        """Accepted messages carrying custom_args[key] (== value when given)."""
        counts = self.custom_arg_values(key)
        return sum(counts.values()) if value is None else counts[value]

    def default_failure_body(self, status: int) -> Any:
        msgs = {429: "too many requests", 500: "internal server error", 503: "service unavailable"}
        return {"errors": [_err(msgs.get(status, f"error {status}"))]}

    def default_failure_headers(self, status: int) -> dict[str, str]:
        # SendGrid's documented rate-limit headers (Retry-After is not one; pass headers= for it):
        # Reset is the Unix time the limit resets, at the next whole minute as SendGrid counts.
        if status != 429:
            return {}
        reset = (int(time.time()) // 60 + 1) * 60
        return {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}

    def _reset_state(self) -> None:
        self._messages.clear()
        self._message_ids.clear()
        self._rejected.clear()

    # ---- HTTP ----------------------------------------------------------------
    def routes(self) -> list:
        return [
            Route("/v3/mail/send", self.endpoint(self._mail_send), methods=["POST"]),
            Route(
                "/{path:path}",
                self.endpoint(self._not_found),
                methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            ),
        ]

    async def _not_found(self, request: Request, body: bytes) -> Response:
        if request.url.path == "/v3/mail/send":
            return json_response({"errors": [_err("method not allowed")]}, 405)
        return json_response({"errors": [_err("not found")]}, 404)

    async def _mail_send(self, request: Request, raw: bytes) -> Response:
        token = bearer_token(request)
        if token is None:
            return json_response({"errors": [_err("authorization required")]}, 401)
        if token != self.api_key:
            return json_response(
                {"errors": [_err("The provided authorization grant is invalid, expired, or revoked")]}, 401
            )
        if len(raw) > MAX_BODY_BYTES:
            return json_response({"errors": [_err("content too large")]}, 413)
        if request.headers.get("content-encoding", "").lower() == "gzip":
            raw = gzip.decompress(raw)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return json_response({"errors": [_err("Bad Request")]}, 400)
        if not isinstance(body, dict):
            return json_response(
                {
                    "errors": [
                        _err(
                            "Invalid type. Expected: object, given: "
                            f"{_JSON_TYPES.get(type(body), 'unknown')}."
                        )
                    ]
                },
                400,
            )
        with self._lock:
            rejected = set(self._rejected)
        errors = documented_errors(body, rejected)
        # Add schema errors, except on fields (or their parents) the documented rules already reported.
        reported = [e["field"] or "" for e in errors]
        errors += [
            e
            for e in schema_errors(body)
            if not any(r == (e["field"] or "") or r.startswith((e["field"] or "") + ".") for r in reported)
        ]
        if errors:
            return json_response({"errors": errors}, 400)
        message_id = secrets.token_urlsafe(16)[:22]
        with self._lock:
            self._messages.append(body)
            self._message_ids.append(message_id)
        return Response(b"", status_code=202, headers={"X-Message-Id": message_id})
