"""Account files (JSON or YAML) and the team file → validated `Account`s.

People are named by id and looked up in `team.yaml` (never written out in an account), which
also says who each CSM's manager is and who the executive on call is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from csrunner.config.sourcemap import DefinitionError, YamlDocument, issues_from_validation, read_yaml
from csrunner.domain.facts import FactsSchema
from csrunner.domain.messages import Account, Person
from csrunner.domain.values import TimeZoneName, check_timezone


class TeamMember(Person):
    role: Literal["csm", "manager", "executive", "ops"] = "csm"
    manager: str = Field("", max_length=200)  # id of this person's manager
    timezone: TimeZoneName = "UTC"  # the zone they read times in (tasks, Slack, inbox, CLI)


class Team(BaseModel):
    model_config = ConfigDict(extra="forbid")
    executive: str = ""
    timezone: TimeZoneName = "UTC"  # the zone of a person who names none
    people: list[TeamMember] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="before")
    @classmethod
    def _default_zone(cls, data: Any) -> Any:
        """A person without `timezone` reads times in the team's."""
        if isinstance(data, dict) and isinstance(data.get("people"), list):
            zone = data.get("timezone", "UTC")
            people = [
                {"timezone": zone, **p} if isinstance(p, dict) and "timezone" not in p else p
                for p in data["people"]
            ]
            data = {**data, "people": people}
        return data

    def get(self, pid: str) -> TeamMember | None:
        return next((p for p in self.people if p.id == pid), None)

    @model_validator(mode="after")
    def _known_references(self) -> Team:
        ids = [p.id for p in self.people]
        if len(set(ids)) != len(ids):
            raise ValueError(f"people: an id is used twice ({sorted({i for i in ids if ids.count(i) > 1})})")
        for ref, where in [(self.executive, "executive")] + [
            (p.manager, f"{p.id}'s manager") for p in self.people
        ]:
            if ref and ref not in ids:
                raise ValueError(f"{where} {ref!r} is not one of the people")
        return self


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


ROLES = ("csm", "manager", "executive")


def unknown_people(data: dict[str, Any], team: Team) -> list[tuple[str, str]]:
    """(role, why) for each csm / manager / executive that is not a team member's id. People
    come from the team file only: a person written out in full (with an email or Slack id of
    someone's choosing) is refused."""
    problems = []
    for role in ROLES:
        value = data.get(role)
        if value is None and role != "csm":
            continue
        if not isinstance(value, str):
            problems.append((role, "name a person by id from the team file (e.g. csm: maria)"))
        elif team.get(value) is None:
            problems.append((role, f"unknown person id {value[:100]!r} (not in the team file)"))
    return problems


def resolve_people(data: dict[str, Any], team: Team) -> dict[str, Any]:
    """`csm: maria` → the team member; manager and executive default from the team file. Call
    `unknown_people` first: ids it did not check are left as they are (and fail validation)."""
    data = dict(data)
    csm = data.get("csm")
    member = team.get(csm) if isinstance(csm, str) else None
    if member is not None:
        data["csm"] = _as_person(member)
        data.setdefault("manager", member.manager or None)
    for role in ("manager", "executive"):
        if isinstance(data.get(role), str):
            data[role] = _as_person(team.get(data[role])) or data[role]
    if data.get("executive") is None and team.executive:
        data["executive"] = _as_person(team.get(team.executive))
    return data


def account_from_doc(doc: YamlDocument, team: Team, facts: FactsSchema | None = None) -> Account:
    """The validated account; its `facts:` are checked against `facts` (the declared schema)."""
    data = doc.data
    if not isinstance(data, dict) or not set(map(str, data)) & set(Account.model_fields):
        raise DefinitionError(
            [doc.issue([], "not an account file: expected a mapping with id, name, contacts and csm")]
        )
    people = unknown_people(data, team)
    if people:
        raise DefinitionError([doc.issue([role], f"field '{role}': {why}") for role, why in people])
    try:
        account = Account.model_validate(resolve_people(data, team))
    except ValidationError as e:
        raise DefinitionError(issues_from_validation(doc, e)) from None
    try:
        check_timezone(account.timezone)
    except ValueError as e:
        raise DefinitionError([doc.issue(["timezone"], f"field 'timezone': {e}")]) from None
    if account.facts or facts is not None:
        try:
            checked = (facts or FactsSchema()).check(account.facts)
        except ValueError as e:  # "facts.<name>: what is wrong", at that fact's line
            name, _, problem = str(e).partition(": ")
            raise DefinitionError([doc.issue(name.split("."), f"field '{name}': {problem}")]) from None
        account = account.model_copy(update={"facts": checked})
    return account


def load_account(path: Path, team: Team, facts: FactsSchema | None = None) -> Account:
    """An account file; with no `facts` schema given, an account declaring facts is refused."""
    return account_from_doc(read_yaml(path), team, facts)
