"""Account files (JSON or YAML) and the team file → validated `Account`s.

People may be written in full in the account, or named by id and looked up in `team.yaml`,
which also says who each CSM's manager is and who the executive on call is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, ValidationError

from csrunner.config.sourcemap import DefinitionError, YamlDocument, issues_from_validation, read_yaml
from csrunner.domain.messages import Account, Person


class TeamMember(Person):
    role: str = "csm"  # csm, manager, executive, ops
    manager: str = ""  # id of this person's manager


class Team(BaseModel):
    model_config = ConfigDict(extra="forbid")
    executive: str = ""
    people: list[TeamMember] = []

    def get(self, pid: str) -> TeamMember | None:
        return next((p for p in self.people if p.id == pid), None)


def load_team(path: Path) -> Team:
    if not Path(path).is_file():
        return Team()
    doc = read_yaml(path)
    try:
        return Team.model_validate(doc.data or {})
    except ValidationError as e:
        raise DefinitionError(issues_from_validation(doc, e)) from None


def _as_person(p: TeamMember | None) -> dict | None:
    return p.model_dump(exclude={"role", "manager"}) if p else None


def resolve_people(data: dict[str, Any], team: Team) -> dict[str, Any]:
    """`csm: maria` → the full person; manager and executive default from the team file."""
    data = dict(data)
    csm = data.get("csm")
    if isinstance(csm, str) and team.get(csm):
        member = team.get(csm)
        data["csm"] = _as_person(member)
        data.setdefault("manager", member.manager or None)
    for role in ("manager", "executive"):
        if isinstance(data.get(role), str):
            data[role] = _as_person(team.get(data[role])) or data[role]
    if data.get("executive") is None and team.executive:
        data["executive"] = _as_person(team.get(team.executive))
    return data


def account_from_doc(doc: YamlDocument, team: Team) -> Account:
    if not isinstance(doc.data, dict):
        raise DefinitionError([doc.issue([], "an account must be a mapping with id, name, contacts and csm")])
    try:
        account = Account.model_validate(resolve_people(doc.data, team))
    except ValidationError as e:
        raise DefinitionError(issues_from_validation(doc, e)) from None
    try:
        ZoneInfo(account.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DefinitionError(
            [
                doc.issue(
                    ["timezone"],
                    f"field 'timezone': unknown time zone "
                    f"{account.timezone!r} (use an IANA name such as Europe/Madrid)",
                )
            ]
        ) from None
    return account


def load_account(path: Path, team: Team) -> Account:
    return account_from_doc(read_yaml(path), team)
