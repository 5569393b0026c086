"""Bearer tokens → people → what they may see and do.

A CSM acts on the accounts they own (or items assigned to them), a manager on their team's,
ops and executives on all (executives are the last rung of every escalation ladder). Tokens come
from API_TOKENS ("token:person_id,...") or a tokens file. The token is checked before the body is
read (see guard.auth_first).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from csrunner.config.accounts import TeamMember
from csrunner.interfaces.web.errors import ServiceError
from csrunner.services import runs

bearer = HTTPBearer(auto_error=False, description="A person's API token (API_TOKENS: token:person_id)")


@dataclass(frozen=True)
class Principal:
    person: TeamMember

    @property
    def id(self) -> str:
        return self.person.id

    @property
    def role(self) -> str:
        return self.person.role


def token_person(svc, token: str) -> TeamMember | None:
    """Constant-time match of the token against every configured one."""
    found = None
    for known, pid in svc.config.api_tokens.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            found = pid
    return svc.person(found) if found else None


def principal_for(svc, token: str | None) -> Principal:
    if not token:
        raise ServiceError(
            401,
            "missing bearer token (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    person = token_person(svc, token)
    if person is None:
        raise ServiceError(
            401,
            "unknown token, or its person is not in the team file",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Principal(person)


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def check_api_user(request: Request) -> None:
    """Before the body: who is calling (kept on the request for `api_user`)."""
    request.state.principal = principal_for(request.app.state.svc, bearer_token(request))


async def api_user(
    request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Principal:
    found = getattr(request.state, "principal", None)
    if isinstance(found, Principal):
        return found
    return principal_for(request.app.state.svc, creds.credentials if creds else None)


async def check_feed_sender(request: Request) -> None:
    """Before the body: FEED_TOKEN, or an ops person's API token."""
    check_feed_token(request.app.state.svc, bearer_token(request))


def check_feed_token(svc, token: str | None) -> None:
    if not token:
        raise ServiceError(
            401,
            "missing bearer token (FEED_TOKEN or an ops API token)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    feed = svc.config.feed_token
    if feed and hmac.compare_digest(token.encode(), feed.encode()):
        return
    person = token_person(svc, token)
    if person is None:
        raise ServiceError(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})
    if person.role != "ops":
        raise ServiceError(403, f"{person.id} ({person.role}) may not post to the feeds: ops only")


def team_of(svc, who: Principal) -> set[str] | None:
    """CSM ids whose runs this person sees; None means all (the CLI's rule too: services.runs)."""
    return runs.sees(svc.team, who.person)


def may_act(svc, who: Principal, csm_id: str, assignee: str = "") -> bool:
    return runs.may_act(svc.team, who.person, csm_id, assignee)


def check_token(given: str | None, expected: str, what: str) -> None:
    """Shared-secret auth for machine senders (CRM, feeds)."""
    if not expected:
        raise ServiceError(401, f"{what} is disabled: no token is configured on the service")
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ServiceError(401, f"missing or wrong token for {what}", headers={"WWW-Authenticate": "Bearer"})
