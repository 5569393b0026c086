"""Fake HubSpot CRM v3: read deals/companies/contacts/owners, create tasks.

Error bodies use HubSpot's shape {"status":"error","message","correlationId","category"}.
Task creation is validated against specs/hubspot_tasks_create_schema.json
(HubSpot-public-api-spec-collection) plus the documented task properties.

Use with httpx:  httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {token}"})
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from jsonschema import Draft202012Validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._server import FakeServer, bearer_token, json_response, load_spec

_SINGULAR = {"deals": "deal", "companies": "company", "contacts": "contact", "tasks": "task"}
# Properties HubSpot returns when the request has no `properties=` parameter.
_DEFAULT_PROPS = {
    "deals": [
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ],
    "companies": ["createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"],
    "contacts": ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"],
}
# Returned even when `properties=` names others.
_ALWAYS = {
    "deals": ["createdate", "hs_lastmodifieddate", "hs_object_id"],
    "companies": ["createdate", "hs_lastmodifieddate", "hs_object_id"],
    "contacts": ["createdate", "lastmodifieddate", "hs_object_id"],
}
# HUBSPOT_DEFINED association type ids for task -> object (HubSpot associations reference).
TASK_ASSOCIATION_TYPES = {204: "contacts", 192: "companies", 216: "deals", 230: "tickets"}
# Enumeration options of the documented task properties (HubSpot rejects other values).
TASK_OPTIONS = {
    "hs_task_status": {"NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"},
    "hs_task_priority": {"NONE", "LOW", "MEDIUM", "HIGH"},
    "hs_task_type": {"EMAIL", "CALL", "TODO", "LINKED_IN", "MEETING"},
}


def _build_task_validator() -> Draft202012Validator:
    spec = load_spec("hubspot_tasks_create_schema.json")
    schemas = copy.deepcopy(spec["schemas"])
    # HubSpot's own doc example sends association ids as numbers ("to": {"id": 101}); the API accepts both.
    schemas["PublicObjectId"]["properties"]["id"] = {"type": ["string", "integer"]}
    root = {
        "$ref": "#/components/schemas/SimplePublicObjectInputForCreate",
        "components": {"schemas": schemas},
    }
    return Draft202012Validator(root)


_TASK_VALIDATOR = _build_task_validator()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _wire(value: Any) -> str | None:
    """HubSpot returns every property value as a string."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def hs_error(status: int, message: str, category: str, **extra: Any) -> Response:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return json_response(body, status)


class FakeHubSpot(FakeServer):
    """`with FakeHubSpot() as hs: httpx.Client(base_url=hs.url, headers={"Authorization": "Bearer hs-test-token"})`."""

    def __init__(self, token: str = "hs-test-token") -> None:
        super().__init__()
        self.token = token
        self._objects: dict[str, dict[str, dict]] = {t: {} for t in _SINGULAR}
        self._assoc: dict[tuple[str, str], dict[str, list[str]]] = {}  # (type, id) -> {to_type: [ids]}
        self._owners: dict[str, dict] = {}
        self._tasks: list[dict] = []
        self._ids = itertools.count(9_000_000_001)

    # ---- seeding -------------------------------------------------------------
    def _add(self, obj_type: str, obj_id: Any, properties: dict | None) -> dict:
        obj_id, now = str(obj_id), _now()
        props = {k: _wire(v) for k, v in (properties or {}).items()}
        props.setdefault("hs_object_id", obj_id)
        props.setdefault("createdate", now)
        props.setdefault("lastmodifieddate" if obj_type == "contacts" else "hs_lastmodifieddate", now)
        obj = {"id": obj_id, "properties": props, "createdAt": now, "updatedAt": now, "archived": False}
        with self._lock:
            self._objects[obj_type][obj_id] = obj
        return obj

    def associate(self, from_type: str, from_id: Any, to_type: str, to_id: Any) -> None:
        """Link two objects both ways (object types are plural: deals, companies, contacts)."""
        a, b = (from_type, str(from_id)), (to_type, str(to_id))
        with self._lock:
            for src, dst in ((a, b), (b, a)):
                ids = self._assoc.setdefault(src, {}).setdefault(dst[0], [])
                if dst[1] not in ids:
                    ids.append(dst[1])

    def add_deal(
        self,
        deal_id: Any,
        properties: dict | None = None,
        company_id: Any = None,
        contact_ids: Iterable[Any] = (),
    ) -> dict:
        obj = self._add("deals", deal_id, properties)
        if company_id is not None:
            self.associate("deals", deal_id, "companies", company_id)
        for cid in contact_ids:
            self.associate("deals", deal_id, "contacts", cid)
        return obj

    def add_company(
        self, company_id: Any, properties: dict | None = None, contact_ids: Iterable[Any] = ()
    ) -> dict:
        obj = self._add("companies", company_id, properties)
        for cid in contact_ids:
            self.associate("companies", company_id, "contacts", cid)
        return obj

    def add_contact(self, contact_id: Any, properties: dict | None = None, company_id: Any = None) -> dict:
        """properties e.g. email, firstname, lastname, hs_language, jobtitle, plus any role property."""
        obj = self._add("contacts", contact_id, properties)
        if company_id is not None:
            self.associate("contacts", contact_id, "companies", company_id)
        return obj

    def add_owner(
        self, owner_id: Any, email: str, firstName: str = "", lastName: str = "", user_id: int | None = None
    ) -> dict:
        now = _now()
        if user_id is None:
            user_id = int(owner_id) + 1 if str(owner_id).isdigit() else 1
        owner = {
            "id": str(owner_id),
            "email": email,
            "type": "PERSON",
            "firstName": firstName,
            "lastName": lastName,
            "userId": user_id,
            "userIdIncludingInactive": user_id,
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
            "teams": [],
        }
        with self._lock:
            self._owners[str(owner_id)] = owner
        return owner

    # ---- recordings ----------------------------------------------------------
    @property
    def tasks(self) -> list[dict]:
        """Created tasks as {"id", "properties" (as sent), "associations" (as sent), "response"}."""
        with self._lock:
            return copy.deepcopy(self._tasks)

    def default_failure_body(self, status: int) -> Any:
        if status == 429:
            return {
                "status": "error",
                "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": "SECONDLY",
            }
        return {
            "status": "error",
            "message": "internal error",
            "correlationId": str(uuid.uuid4()),
            "category": "INTERNAL_ERROR" if status >= 500 else "VALIDATION_ERROR",
        }

    def _reset_state(self) -> None:
        # Seeded data (objects, owners) survives reset(); created tasks are traffic.
        for task_id in [t["id"] for t in self._tasks]:
            self._objects["tasks"].pop(task_id, None)
            self._assoc.pop(("tasks", task_id), None)
        self._tasks.clear()

    def clear_data(self) -> None:
        """Drop seeded objects, owners and associations too (reset() keeps them)."""
        with self._lock:
            for d in self._objects.values():
                d.clear()
            self._assoc.clear()
            self._owners.clear()
            self._tasks.clear()

    # ---- HTTP ----------------------------------------------------------------
    def routes(self) -> list:
        def authed(fn):
            async def handler(request: Request, raw: bytes) -> Response:
                token = bearer_token(request)
                if token is None:
                    return hs_error(
                        401,
                        "Authentication credentials not found. This API supports OAuth 2.0 "
                        "authentication and you can find more details at "
                        "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                        "INVALID_AUTHENTICATION",
                    )
                if token != self.token:
                    return hs_error(
                        401,
                        "The OAuth token used to make this call expired or is invalid.",
                        "INVALID_AUTHENTICATION",
                    )
                return await fn(request, raw)

            return self.endpoint(handler)

        async def not_found(request: Request, raw: bytes) -> Response:
            return hs_error(404, "resource not found", "OBJECT_NOT_FOUND")

        return [
            Route("/crm/v3/objects/tasks", authed(self._create_task), methods=["POST"]),
            Route(
                "/crm/v3/objects/{object_type:str}/{object_id:str}", authed(self._get_object), methods=["GET"]
            ),
            Route("/crm/v3/owners/{owner_id:str}", authed(self._get_owner), methods=["GET"]),
            Route(
                "/{path:path}", self.endpoint(not_found), methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
            ),
        ]

    async def _get_object(self, request: Request, raw: bytes) -> Response:
        obj_type, obj_id = request.path_params["object_type"], request.path_params["object_id"]
        with self._lock:
            obj = copy.deepcopy(self._objects.get(obj_type, {}).get(obj_id))
            assoc = copy.deepcopy(self._assoc.get((obj_type, obj_id), {}))
        if obj_type not in _DEFAULT_PROPS or obj is None:
            return hs_error(404, "resource not found", "OBJECT_NOT_FOUND", context={"id": [obj_id]})
        wanted = _csv_param(request, "properties")
        names = (
            (wanted + [p for p in _ALWAYS[obj_type] if p not in wanted])
            if wanted
            else _DEFAULT_PROPS[obj_type]
        )
        # Requested-but-unset properties come back as null, like HubSpot.
        obj["properties"] = {n: obj["properties"].get(n) for n in names}
        associations = {}
        for to_type in _csv_param(request, "associations"):
            ids = assoc.get(to_type, [])
            if ids:  # HubSpot omits association types with no results
                kind = f"{_SINGULAR.get(obj_type, obj_type)}_to_{_SINGULAR.get(to_type, to_type)}"
                associations[to_type] = {"results": [{"id": i, "type": kind} for i in ids]}
        if associations:
            obj["associations"] = associations
        return json_response(obj)

    async def _get_owner(self, request: Request, raw: bytes) -> Response:
        with self._lock:
            owner = copy.deepcopy(self._owners.get(request.path_params["owner_id"]))
        if owner is None:
            return hs_error(404, "resource not found", "OBJECT_NOT_FOUND")
        return json_response(owner)

    async def _create_task(self, request: Request, raw: bytes) -> Response:
        try:
            body = json.loads(raw)
        except ValueError as e:
            return hs_error(400, f"Invalid input JSON: {e}", "VALIDATION_ERROR")
        errors = sorted(_TASK_VALIDATOR.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            e = errors[0]
            where = "/".join(map(str, e.absolute_path)) or "(root)"
            return hs_error(400, f"Invalid input JSON: {e.message} at {where}", "VALIDATION_ERROR")
        props = body["properties"]
        error = self._task_property_errors(props) or self._association_errors(body["associations"])
        if error:
            return error
        task_id, now = str(next(self._ids)), _now()
        response = {
            "id": task_id,
            "properties": {
                **props,
                "hs_object_id": task_id,
                "hs_createdate": now,
                "hs_lastmodifieddate": now,
            },
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
        }
        with self._lock:
            self._tasks.append(
                {
                    "id": task_id,
                    "properties": props,
                    "associations": body["associations"],
                    "response": response,
                }
            )
            self._objects["tasks"][task_id] = copy.deepcopy(response)
        for a in body["associations"]:
            for t in a["types"]:
                to_type = TASK_ASSOCIATION_TYPES.get(t["associationTypeId"])
                if to_type:
                    self.associate("tasks", task_id, to_type, a["to"]["id"])
        return json_response(response, 201)

    def _task_property_errors(self, props: dict) -> Response | None:
        if not props.get("hs_timestamp"):
            return hs_error(
                400,
                "Error creating TASK. Some required properties were not set.",
                "VALIDATION_ERROR",
                context={"properties": ["hs_timestamp"]},
            )
        invalid = []
        ts = props["hs_timestamp"]
        if not re.fullmatch(r"\d{10,13}", ts):
            try:
                datetime.fromisoformat(ts.replace("Z", "+00:00"))
            except ValueError:
                invalid.append(("hs_timestamp", ts, "INVALID_DATE"))
        for name, options in TASK_OPTIONS.items():
            if name in props and props[name] not in options:
                invalid.append((name, props[name], "INVALID_OPTION"))
        owner = props.get("hubspot_owner_id")
        with self._lock:
            known_owner = owner in self._owners
        if owner and not known_owner:
            invalid.append(("hubspot_owner_id", owner, "INVALID_OWNER_ID"))
        if not invalid:
            return None
        details = [
            {"isValid": False, "message": f"{v} was not a valid value for {n}", "error": err, "name": n}
            for n, v, err in invalid
        ]
        return hs_error(
            400,
            f"Property values were not valid: {json.dumps(details)}",
            "VALIDATION_ERROR",
            errors=[
                {"message": d["message"], "code": d["error"], "context": {"propertyName": [d["name"]]}}
                for d in details
            ],
        )

    def _association_errors(self, associations: list[dict]) -> Response | None:
        for a in associations:
            for t in a["types"]:
                to_type = TASK_ASSOCIATION_TYPES.get(t["associationTypeId"])
                if t["associationCategory"] == "HUBSPOT_DEFINED" and to_type is None:
                    return hs_error(
                        400,
                        f"{t['associationTypeId']} is not a valid association type id for tasks",
                        "VALIDATION_ERROR",
                    )
                with self._lock:  # only object types this fake stores can be checked
                    missing = to_type in self._objects and str(a["to"]["id"]) not in self._objects[to_type]
                if missing:
                    return hs_error(
                        400,
                        f"One or more associations are invalid: {to_type} {a['to']['id']} does not exist",
                        "VALIDATION_ERROR",
                    )
        return None


def _csv_param(request: Request, name: str) -> list[str]:
    """`properties=a,b` and repeated `properties=a&properties=b` are both accepted."""
    out: list[str] = []
    for value in request.query_params.getlist(name):
        out += [v.strip() for v in value.split(",") if v.strip() and v.strip() not in out]
    return out
