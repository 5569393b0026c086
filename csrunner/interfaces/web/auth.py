"""Bearer tokens → people → what they may see and do.

A CSM acts on the accounts they own (or items assigned to them), a manager on their team's,
ops and executives on all. Tokens come from API_TOKENS ("token:person_id,...") or a tokens file.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from csrunner.config.accounts import TeamMember
from csrunner.interfaces.web.errors import ServiceError

bearer = HTTPBearer(auto_error=False, description="A person's API token (API_TOKENS: token:person_id)")
ALL_SEEING = ("ops", "executive")


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


async def api_user(
    request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Principal:
    return principal_for(request.app.state.svc, creds.credentials if creds else None)


def team_of(svc, who: Principal) -> set[str] | None:
    """CSM ids whose runs this person sees; None means all."""
    if who.role in ALL_SEEING:
        return None
    ids = {who.id}
    if who.role == "manager":
        ids |= {p.id for p in svc.team.people if p.manager == who.id}
    return ids


def may_act(svc, who: Principal, csm_id: str, assignee: str = "") -> bool:
    team = team_of(svc, who)
    return team is None or csm_id in team or assignee == who.id


def check_token(given: str | None, expected: str, what: str) -> None:
    """Shared-secret auth for machine senders (CRM, feeds)."""
    if not expected:
        raise ServiceError(401, f"{what} is disabled: no token is configured on the service")
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ServiceError(401, f"missing or wrong token for {what}", headers={"WWW-Authenticate": "Bearer"})
