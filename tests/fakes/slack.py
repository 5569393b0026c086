"""Fake Slack Web API: chat.postMessage, chat.update, views.open, auth.test, users.info.

Speaks Slack's wire format: any method may be GET or POST; arguments come as JSON
(token only via `Authorization: Bearer`), form-urlencoded or multipart (token may
also be a `token` field), or query string. API errors are HTTP 200 with
{"ok": false, "error": ...}; rate limiting is HTTP 429 + Retry-After.
Block Kit limits come from specs/slack_limits_and_sdk.json; modal limits (views.open) and the
`view_submission` payload a modal's submit sends back from specs/slack_views_and_modals.json.

Use with the real client:  slack_sdk.WebClient(token, base_url=fake.url + "/api/")
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import time
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._server import FakeServer, bearer_token, json_response, load_spec

_SPEC = load_spec("slack_limits_and_sdk.json")
_VIEWS = load_spec("slack_views_and_modals.json")
MODAL_BLOCKS_MAX = 100  # modal_view_limits.blocks
MODAL_TITLE_MAX = 24  # title / submit / close
PRIVATE_METADATA_MAX = 3000
CALLBACK_ID_MAX = 255
INPUT_VALUE_MAX = 3000  # plain_text_input max_length
_KIT = _SPEC["block_kit_limits_sdk"]
MAX_BLOCKS = _SPEC["message_limits_docs"]["blocks_per_message"]  # 50
MAX_TEXT = _SPEC["message_limits_docs"]["text_truncated_over_chars"]  # 40000, then truncated + warning
SECTION_TEXT_MAX = _KIT["SectionBlock.text_max_length"]  # 3000
SECTION_FIELDS_MAX = _KIT["SectionBlock.fields_max_length"]  # 10
ACTIONS_ELEMENTS_MAX = _KIT["ActionsBlock.elements_max_length"]  # 25
BLOCK_ID_MAX = _KIT["Block.block_id_max_length"]  # 255
ACTION_ID_MAX = _KIT["InteractiveElement.action_id_max_length"]  # 255
BUTTON_TEXT_MAX = _KIT["ButtonElement.text_max_length"]  # 75
BUTTON_VALUE_MAX = _KIT["ButtonElement.value_max_length"]  # 2000
BUTTON_URL_MAX = _KIT["ButtonElement.url_max_length"]  # 3000
HEADER_TEXT_MAX = 150  # Block Kit reference: header text max 150 chars
FIELD_TEXT_MAX = 2000  # Block Kit reference: each section field max 2000 chars
CONTEXT_ELEMENTS_MAX = 10  # Block Kit reference
KNOWN_BLOCKS = {
    "section",
    "actions",
    "context",
    "divider",
    "header",
    "image",
    "input",
    "rich_text",
    "file",
    "video",
    "markdown",
    "call",
}


def _too_long(limit: int, ptr: str) -> str:
    return f"must be less than {limit + 1} characters [json-pointer:{ptr}]"


def _text_obj(obj: Any, ptr: str, limit: int, plain_only: bool = False) -> list[str]:
    """Validate a composition text object {"type": "plain_text"|"mrkdwn", "text": ...}."""
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        return [f"must provide an object [json-pointer:{ptr}]"]
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if obj.get("type") not in allowed:
        return [f"must be one of {list(allowed)} [json-pointer:{ptr}/type]"]
    if not obj["text"]:
        return [f"must be more than 0 characters [json-pointer:{ptr}/text]"]
    if len(obj["text"]) > limit:
        return [_too_long(limit, f"{ptr}/text")]
    return []


def _element(el: Any, ptr: str) -> list[str]:
    if not isinstance(el, dict) or "type" not in el:
        return [f"missing required field: type [json-pointer:{ptr}]"]
    errs = []
    if "action_id" in el and len(str(el["action_id"])) > ACTION_ID_MAX:
        errs.append(_too_long(ACTION_ID_MAX, f"{ptr}/action_id"))
    if el["type"] == "button":
        errs += _text_obj(el.get("text"), f"{ptr}/text", BUTTON_TEXT_MAX, plain_only=True)
        if "value" in el and len(str(el["value"])) > BUTTON_VALUE_MAX:
            errs.append(_too_long(BUTTON_VALUE_MAX, f"{ptr}/value"))
        if "url" in el and len(str(el["url"])) > BUTTON_URL_MAX:
            errs.append(_too_long(BUTTON_URL_MAX, f"{ptr}/url"))
        if el.get("style") not in (None, "primary", "danger"):
            errs.append(f"must be one of ['primary', 'danger'] [json-pointer:{ptr}/style]")
    return errs


def validate_blocks(blocks: Any, limit: int = MAX_BLOCKS) -> list[str]:
    """Slack-style error strings ("... [json-pointer:/blocks/0/text/text]") for a blocks array."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    if len(blocks) > limit:
        return [f"no more than {limit} items allowed [json-pointer:/blocks]"]
    errs: list[str] = []
    block_ids: set[str] = set()
    for i, b in enumerate(blocks):
        ptr = f"/blocks/{i}"
        if not isinstance(b, dict) or b.get("type") not in KNOWN_BLOCKS:
            errs.append(
                f"unsupported type: {b.get('type') if isinstance(b, dict) else b!r} [json-pointer:{ptr}]"
            )
            continue
        if "block_id" in b:
            bid = str(b["block_id"])
            if len(bid) > BLOCK_ID_MAX:
                errs.append(_too_long(BLOCK_ID_MAX, f"{ptr}/block_id"))
            if bid in block_ids:
                errs.append(f"duplicate block_id [json-pointer:{ptr}/block_id]")
            block_ids.add(bid)
        t = b["type"]
        if t == "section":
            if "text" not in b and "fields" not in b:
                errs.append(f"must provide either text or fields [json-pointer:{ptr}]")
            if "text" in b:
                errs += _text_obj(b["text"], f"{ptr}/text", SECTION_TEXT_MAX)
            fields = b.get("fields", [])
            if not isinstance(fields, list) or len(fields) > SECTION_FIELDS_MAX:
                errs.append(f"no more than {SECTION_FIELDS_MAX} items allowed [json-pointer:{ptr}/fields]")
            else:
                for j, f in enumerate(fields):
                    errs += _text_obj(f, f"{ptr}/fields/{j}", FIELD_TEXT_MAX)
            if "accessory" in b:
                errs += _element(b["accessory"], f"{ptr}/accessory")
        elif t == "header":
            errs += _text_obj(b.get("text"), f"{ptr}/text", HEADER_TEXT_MAX, plain_only=True)
        elif t == "input":
            errs += _input(b, ptr)
        elif t in ("actions", "context"):
            limit = ACTIONS_ELEMENTS_MAX if t == "actions" else CONTEXT_ELEMENTS_MAX
            els = b.get("elements")
            if not isinstance(els, list) or not els:
                errs.append(f"must provide at least 1 item [json-pointer:{ptr}/elements]")
            elif len(els) > limit:
                errs.append(f"no more than {limit} items allowed [json-pointer:{ptr}/elements]")
            else:
                for j, el in enumerate(els):
                    if t == "actions":
                        errs += _element(el, f"{ptr}/elements/{j}")
                    elif isinstance(el, dict) and el.get("type") in ("plain_text", "mrkdwn"):
                        errs += _text_obj(el, f"{ptr}/elements/{j}", SECTION_TEXT_MAX)
    return errs


def _input(b: dict, ptr: str) -> list[str]:
    """An input block: a plain_text label and a plain_text_input element within its limits."""
    errs = _text_obj(b.get("label"), f"{ptr}/label", FIELD_TEXT_MAX, plain_only=True)
    el = b.get("element")
    if not isinstance(el, dict) or el.get("type") != "plain_text_input":
        return [*errs, f"must be a plain_text_input [json-pointer:{ptr}/element]"]
    if not el.get("action_id") or len(str(el["action_id"])) > ACTION_ID_MAX:
        errs.append(f"must provide an action_id [json-pointer:{ptr}/element/action_id]")
    cap = el.get("max_length", INPUT_VALUE_MAX)
    if not isinstance(cap, int) or not 1 <= cap <= INPUT_VALUE_MAX:
        errs.append(f"must be 1-{INPUT_VALUE_MAX} [json-pointer:{ptr}/element/max_length]")
    elif len(str(el.get("initial_value", ""))) > cap:
        errs.append(_too_long(cap, f"{ptr}/element/initial_value"))
    return errs


def validate_view(view: Any) -> list[str]:
    """A modal view object as views.open checks it (specs/slack_views_and_modals.json)."""
    if not isinstance(view, dict) or view.get("type") != "modal":
        return ["must be a modal view [json-pointer:/view/type]"]
    errs = _text_obj(view.get("title"), "/view/title", MODAL_TITLE_MAX, plain_only=True)
    blocks = view.get("blocks")
    has_input = isinstance(blocks, list) and any(
        isinstance(b, dict) and b.get("type") == "input" for b in blocks
    )
    for key in ("submit", "close"):
        if key in view or (key == "submit" and has_input):
            errs += _text_obj(view.get(key), f"/view/{key}", MODAL_TITLE_MAX, plain_only=True)
    errs += [
        e.replace("[json-pointer:/blocks", "[json-pointer:/view/blocks")
        for e in validate_blocks(blocks, MODAL_BLOCKS_MAX)
    ]
    if len(str(view.get("private_metadata", ""))) > PRIVATE_METADATA_MAX:
        errs.append(_too_long(PRIVATE_METADATA_MAX, "/view/private_metadata"))
    if len(str(view.get("callback_id", ""))) > CALLBACK_ID_MAX:
        errs.append(_too_long(CALLBACK_ID_MAX, "/view/callback_id"))
    return errs


def _default_channel_ok(channel: str) -> bool:
    return channel[:1] in ("C", "G", "D", "U") or (channel.startswith("#") and len(channel) > 1)


class FakeSlack(FakeServer):
    """`with FakeSlack() as slack: WebClient("xoxb-test-token", base_url=slack.url + "/api/")`.

    channels: accepted channel ids / "#names" (default: any id starting with C/G/D/U, or "#name").
    users: dicts with at least "id" (see add_user) served by users.info.
    """

    TEAM_ID = "T0FAKE0001"
    BOT_USER_ID = "U0FAKEBOT1"
    BOT_ID = "B0FAKEBOT1"

    def __init__(
        self,
        token: str = "xoxb-test-token",
        channels: Iterable[str] | None = None,
        users: Iterable[dict] | None = None,
    ) -> None:
        super().__init__()
        self.token = token
        self.channels: set[str] | None = set(channels) if channels is not None else None
        self._users: dict[str, dict] = {}
        for u in users or ():
            self.add_user(**u)
        self._messages: dict[tuple[str, str], dict] = {}  # (channel_id, ts) -> record, post order
        self._updates: list[dict] = []
        self._views: list[dict] = []
        self._used_triggers: set[str] = set()
        self._ts_counter = itertools.count(1)
        self._ts_base = int(time.time())

    # ---- test-facing API ---------------------------------------------------
    def add_channel(self, channel: str) -> None:
        """Allow a channel; note this turns the default "any C/G/D/U id" rule into an allow-list."""
        with self._lock:
            self.channels = (self.channels or set()) | {channel}

    def add_user(
        self,
        id: str,
        name: str | None = None,
        real_name: str | None = None,
        email: str | None = None,
        tz: str = "America/New_York",
        is_bot: bool = False,
        deleted: bool = False,
        **extra: Any,
    ) -> dict:
        name = name or id.lower()
        real_name = real_name or name
        user = {
            "id": id,
            "team_id": self.TEAM_ID,
            "name": name,
            "deleted": deleted,
            "real_name": real_name,
            "tz": tz,
            "tz_label": tz,
            "tz_offset": 0,
            "is_bot": is_bot,
            "is_admin": False,
            "is_owner": False,
            "updated": int(time.time()),
            "profile": {"real_name": real_name, "display_name": name, "email": email, "team": self.TEAM_ID},
            **extra,
        }
        with self._lock:
            self._users[id] = user
        return user

    @property
    def messages(self) -> list[dict]:
        """Posted messages (oldest first) as {"channel", "ts", "text", "blocks", "thread_ts", "args"},
        reflecting any chat.update since."""
        with self._lock:
            return copy.deepcopy(list(self._messages.values()))

    @property
    def updates(self) -> list[dict]:
        """chat.update calls that succeeded, as {"channel", "ts", "text", "blocks", "args"}."""
        with self._lock:
            return copy.deepcopy(self._updates)

    @property
    def views(self) -> list[dict]:
        """Modals opened with views.open (oldest first), as the view object with its new "id"."""
        with self._lock:
            return copy.deepcopy(self._views)

    def view_submission(self, view_id: str, user: str, values: dict[str, str]) -> dict:
        """The `view_submission` payload Slack sends when `user` submits the modal `view_id`
        with `values` ({block_id: text}), in the spec's shape (specs/slack_views_and_modals.json)."""
        view = next(v for v in self.views if v["id"] == view_id)
        payload = copy.deepcopy(_VIEWS["view_submission_payload"]["example"])
        payload["user"] = {
            "id": user,
            "username": user.lower(),
            "name": user.lower(),
            "team_id": self.TEAM_ID,
        }
        payload["trigger_id"] = f"{time.time_ns()}.fake"
        inputs = {
            b["block_id"]: b["element"]["action_id"] for b in view["blocks"] if b.get("type") == "input"
        }
        unknown = set(values) - set(inputs)
        if unknown:
            raise ValueError(f"the modal has no input blocks {sorted(unknown)}")
        payload["view"] = {
            "id": view["id"],
            "type": "modal",
            "callback_id": view.get("callback_id", ""),
            "private_metadata": view.get("private_metadata", ""),
            "hash": f"{time.time_ns()}.fake",
            "state": {
                "values": {
                    bid: {aid: {"type": "plain_text_input", "value": values.get(bid)}}
                    for bid, aid in inputs.items()
                }
            },
        }
        return payload

    def messages_in(self, channel: str) -> list[dict]:
        channel = self.channel_id(channel)
        return [m for m in self.messages if m["channel"] == channel]

    def fail_next(
        self,
        status: int = 429,
        times: int = 1,
        headers: dict | None = None,
        body: Any = None,
        retry_after: int | None = 1,
        error: str | None = None,
    ) -> None:
        """429 -> Retry-After + {"ok":false,"error":"ratelimited"}; 5xx -> internal_error;
        status=200 with error="..." -> an API-level {"ok":false,"error":...}."""
        headers = dict(headers or {})
        if status == 429 and retry_after is not None:
            headers.setdefault("Retry-After", str(retry_after))
        if body is None and error is not None:
            body = {"ok": False, "error": error}
        super().fail_next(status, times, headers, body)

    def default_failure_body(self, status: int) -> Any:
        return {"ok": False, "error": "ratelimited" if status == 429 else "internal_error"}

    @staticmethod
    def channel_id(channel: str) -> str:
        """Slack answers with channel ids; '#name' maps to a stable fake id."""
        if channel.startswith("#"):
            return "C" + hashlib.sha1(channel[1:].encode()).hexdigest()[:10].upper()
        return channel

    def _reset_state(self) -> None:
        self._messages.clear()
        self._updates.clear()
        self._views.clear()
        self._used_triggers.clear()

    # ---- HTTP ----------------------------------------------------------------
    def routes(self) -> list:
        methods = {
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "views.open": self._views_open,
            "auth.test": self._auth_test,
            "users.info": self._users_info,
        }

        def api(fn):
            async def handler(request: Request, raw: bytes) -> Response:
                args, body_token = await _parse_args(request, raw)
                token = bearer_token(request) or body_token
                if not token:
                    return _api_error("not_authed")
                if token != self.token:
                    return _api_error("invalid_auth")
                return fn(args)

            return self.endpoint(handler)

        async def unknown(request: Request, raw: bytes) -> Response:
            return json_response({"ok": False, "error": "unknown_method"}, 404)

        return [Route(f"/api/{name}", api(fn), methods=["GET", "POST"]) for name, fn in methods.items()] + [
            Route("/{path:path}", self.endpoint(unknown), methods=["GET", "POST"])
        ]

    def _next_ts(self) -> str:
        return f"{self._ts_base}.{next(self._ts_counter):06d}"

    def _channel_ok(self, channel: str) -> bool:
        with self._lock:
            if self.channels is None:
                return _default_channel_ok(channel)
            return channel in self.channels or self.channel_id(channel) in {
                self.channel_id(c) for c in self.channels
            }

    def _content(self, args: dict) -> tuple[dict | None, Response | None]:
        """Shared text/blocks checks; returns ({"text", "blocks", warnings}, None) or (None, error)."""
        text, blocks = args.get("text"), args.get("blocks")
        if isinstance(blocks, str):  # form-encoded: blocks is a JSON string
            try:
                blocks = json.loads(blocks)
            except ValueError:
                return None, _api_error("invalid_blocks_format")
        if blocks is not None and not isinstance(blocks, list):
            return None, _api_error("invalid_blocks_format")
        if not text and not blocks and not args.get("attachments"):
            return None, _api_error("no_text")
        if blocks:
            errs = validate_blocks(blocks)
            if errs:
                return None, _api_error(
                    "invalid_blocks",
                    errors=errs,
                    response_metadata={"messages": [f"[ERROR] {e}" for e in errs]},
                )
        warnings = []
        if isinstance(text, str) and len(text) > MAX_TEXT:
            text, warnings = text[:MAX_TEXT], ["message_truncated"]
        return {"text": text, "blocks": blocks, "warnings": warnings}, None

    def _post_message(self, args: dict) -> Response:
        channel = args.get("channel")
        if not channel or not self._channel_ok(channel):
            return _api_error("channel_not_found")
        content, error = self._content(args)
        if error:
            return error
        cid, ts = self.channel_id(channel), self._next_ts()
        message = {
            "type": "message",
            "subtype": "bot_message",
            "text": content["text"] or "",
            "ts": ts,
            "user": self.BOT_USER_ID,
            "bot_id": self.BOT_ID,
            "team": self.TEAM_ID,
        }
        if content["blocks"]:
            message["blocks"] = content["blocks"]
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        record = {
            "channel": cid,
            "ts": ts,
            "text": content["text"],
            "blocks": content["blocks"],
            "thread_ts": args.get("thread_ts"),
            "args": args,
        }
        with self._lock:
            self._messages[(cid, ts)] = record
        return _ok({"channel": cid, "ts": ts, "message": message}, content["warnings"])

    def _update(self, args: dict) -> Response:
        channel, ts = args.get("channel"), args.get("ts")
        if not channel or not self._channel_ok(channel):
            return _api_error("channel_not_found")
        key = (self.channel_id(channel), str(ts))
        with self._lock:
            exists = key in self._messages
        if not ts or not exists:
            return _api_error("message_not_found")
        content, error = self._content(args)
        if error:
            return error
        with self._lock:
            record = self._messages[key]
            if content["text"] is not None:
                record["text"] = content["text"]
            if content["blocks"] is not None:  # Slack keeps old blocks unless blocks is sent ([] clears)
                record["blocks"] = content["blocks"]
            self._updates.append(
                {
                    "channel": key[0],
                    "ts": key[1],
                    "text": content["text"],
                    "blocks": content["blocks"],
                    "args": args,
                }
            )
            message = {
                "type": "message",
                "text": record["text"] or "",
                "user": self.BOT_USER_ID,
                "bot_id": self.BOT_ID,
                **({"blocks": record["blocks"]} if record["blocks"] else {}),
            }
        return _ok(
            {"channel": key[0], "ts": key[1], "text": message["text"], "message": message},
            content["warnings"],
        )

    def _views_open(self, args: dict) -> Response:
        trigger, view = args.get("trigger_id"), args.get("view")
        if not isinstance(trigger, str) or not trigger:
            return _api_error("invalid_trigger_id")
        if isinstance(view, str):  # form-encoded: view is a JSON string
            try:
                view = json.loads(view)
            except ValueError:
                return _api_error("invalid_arguments")
        errs = validate_view(view)
        if errs:
            return _api_error(
                "invalid_arguments",
                errors=errs,
                response_metadata={"messages": [f"[ERROR] {e}" for e in errs]},
            )
        with self._lock:
            if trigger in self._used_triggers:  # a trigger opens one view
                return _api_error("exchanged_trigger_id")
            self._used_triggers.add(trigger)
            opened = {**view, "id": f"V{len(self._views) + 1:08d}", "team_id": self.TEAM_ID}
            self._views.append(opened)
        keys = ("id", "team_id", "type", "private_metadata", "callback_id")
        return _ok({"view": {**{k: opened.get(k, "") for k in keys}, "hash": f"{time.time_ns()}.fake"}})

    def _auth_test(self, args: dict) -> Response:
        return _ok(
            {
                "url": "https://fake-workspace.slack.com/",
                "team": "Fake Workspace",
                "user": "fakebot",
                "team_id": self.TEAM_ID,
                "user_id": self.BOT_USER_ID,
                "bot_id": self.BOT_ID,
                "is_enterprise_install": False,
            }
        )

    def _users_info(self, args: dict) -> Response:
        with self._lock:
            user = copy.deepcopy(self._users.get(args.get("user", "")))
        if user is None:
            return _api_error("user_not_found")
        return _ok({"user": user})


async def _parse_args(request: Request, raw: bytes) -> tuple[dict, str | None]:
    """Merge query-string and body arguments; return (args, token-from-body-or-query)."""
    args: dict[str, Any] = dict(request.query_params)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body_token = args.pop("token", None)
    if ctype == "application/json":
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = {}
        if isinstance(data, dict):
            data.pop("token", None)  # Slack ignores a token inside a JSON body
            args.update(data)
    elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        data = {k: v for k, v in form.items() if isinstance(v, str)}
        body_token = data.pop("token", None) or body_token
        args.update(data)
    return args, body_token


def _ok(payload: dict, warnings: list[str] | None = None) -> Response:
    body = {"ok": True, **payload}
    if warnings:
        body["warning"] = ",".join(warnings)
        body["response_metadata"] = {"warnings": warnings}
    return json_response(body)


def _api_error(error: str, **extra: Any) -> Response:
    return json_response({"ok": False, "error": error, **extra})  # Slack: HTTP 200 + ok:false
