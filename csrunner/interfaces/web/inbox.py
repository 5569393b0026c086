"""The CSMs' web inbox: server-rendered pages (Jinja2) over the same functions as the API.
Sign in with an API token: the server opens a session and the HttpOnly, SameSite=Strict cookie
holds only its random id (signing out revokes it). Posts from another origin are refused before
the form is read; every form carries a CSRF token derived from the session. No build step."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Optional
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from csrunner.config.facts import facts_schema
from csrunner.config.sourcemap import DefinitionError
from csrunner.domain.definitions import TEAM_ROLES
from csrunner.domain.facts import FactsSchema
from csrunner.domain.messages import Action
from csrunner.domain.timefmt import human_time
from csrunner.interfaces.web.auth import Principal, principal_for, team_of
from csrunner.interfaces.web.errors import ServiceError
from csrunner.interfaces.web.guard import auth_first
from csrunner.interfaces.web.sessions import LIFETIME, digest
from csrunner.interfaces.web.work import pending_for, perform, timeline


async def same_origin(request: Request) -> None:
    """Before a form is read: a post from another site (a hidden form, a framed page) is refused."""
    if request.method != "POST":
        return
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if site not in (None, "same-origin", "none") or (origin and urlsplit(origin).netloc != host):
        raise ServiceError(403, "cross-origin form post refused: sign in from the inbox's own page")


router = APIRouter(prefix="/inbox", tags=["inbox"], route_class=auth_first(same_origin))
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# `{{ it.due_at | local_time(who.person.timezone) }}`: times in the signed-in person's zone
templates.env.filters["local_time"] = human_time
COOKIE, FLASH = "csr_session", "csr_flash"
HTML: dict[int | str, dict[str, Any]] = {200: {"content": {"text/html": {}}, "description": "an HTML page"}}
SNOOZE_HOURS = {"1": "1 hour", "4": "4 hours", "24": "1 day", "72": "3 days", "168": "1 week"}


def _who(request: Request) -> tuple[Principal, str] | None:
    """The signed-in person and their session id, while the session and its token stand."""
    svc, sid = request.app.state.svc, request.cookies.get(COOKIE, "")
    session = svc.sessions.get(sid)
    if session is None:
        return None
    tokens = [t for t, pid in svc.config.api_tokens.items() if pid == session.person_id]
    person = svc.person(session.person_id)
    if person is None or not any(hmac.compare_digest(digest(t), session.token_digest) for t in tokens):
        svc.sessions.revoke(sid)  # the token was rotated or the person left the team
        return None
    return Principal(person), sid


def _redirect(url: str, flash: str = "", error: bool = False) -> RedirectResponse:
    r = RedirectResponse(url, status_code=303)
    if flash:
        r.set_cookie(
            FLASH,
            quote(("!" if error else "") + flash[:500]),
            max_age=60,
            httponly=True,
            samesite="strict",
            path="/inbox",
        )
    return r


def _page(request: Request, template: str, status: int = 200, **ctx) -> HTMLResponse:
    from urllib.parse import unquote

    flash = unquote(request.cookies.get(FLASH, ""))
    r = templates.TemplateResponse(
        request,
        template,
        {"flash": flash.lstrip("!"), "flash_error": flash.startswith("!"), "now": datetime.now(UTC), **ctx},
        status_code=status,
    )
    if flash:
        r.delete_cookie(FLASH, path="/inbox")
    return r


@router.get("/login", response_class=HTMLResponse, responses=HTML, summary="Inbox: sign-in page")
async def login_page(request: Request):
    return _page(request, "login.html")


@router.post(
    "/login",
    response_class=HTMLResponse,
    responses={303: {"description": "to the inbox"}, **HTML},
    summary="Inbox: sign in with an API token",
)
async def login(request: Request, token: str = Form(..., max_length=500)):
    svc = request.app.state.svc
    try:
        who = principal_for(svc, token.strip())
    except ServiceError as e:
        return _page(request, "login.html", status=401, error=e.message)
    old = request.cookies.get(COOKIE, "")
    if old:
        svc.sessions.revoke(old)  # a fresh id at every sign-in (no session fixation)
    r = _redirect("/inbox")
    r.set_cookie(
        COOKIE,
        svc.sessions.open(who.id, token.strip()),
        httponly=True,
        samesite="strict",
        path="/",
        secure=svc.config.secure_cookies,
        max_age=LIFETIME,
    )
    return r


@router.post("/logout", response_class=RedirectResponse, status_code=303, summary="Inbox: sign out")
async def logout(request: Request):
    request.app.state.svc.sessions.revoke(request.cookies.get(COOKIE, ""))  # the id is dead now
    r = _redirect("/inbox/login")
    r.delete_cookie(COOKIE, path="/")
    return r


@router.get("", response_class=HTMLResponse, responses=HTML, summary="Inbox: my pending approvals and tasks")
async def inbox(request: Request, csm: Optional[str] = None):
    found = _who(request)
    if found is None:
        return _redirect("/inbox/login")
    who, sid = found
    svc = request.app.state.svc
    try:
        items = await pending_for(svc, who, csm or None)
        problem = ""
    except ServiceError as e:
        items, problem = [], e.message
    team = team_of(svc, who)
    csms = sorted(p.id for p in svc.team.people if p.role == "csm" and (team is None or p.id in team))
    return _page(
        request,
        "inbox.html",
        status=200,
        who=who,
        items=items,
        problem=problem,
        csm=csm or "",
        csms=csms,
        csrf=svc.sessions.csrf(sid),
        snooze_hours=SNOOZE_HOURS,
        people=svc.team.people,
        roles=TEAM_ROLES,
        person_name=svc.name,
    )


@router.get(
    "/accounts/{account_id}",
    response_class=HTMLResponse,
    responses=HTML,
    summary="Inbox: an account's timeline",
)
async def account_page(account_id: str, request: Request):
    found = _who(request)
    if found is None:
        return _redirect("/inbox/login")
    who, _ = found
    try:
        tl, problem, status = await timeline(request.app.state.svc, who, account_id), "", 200
    except ServiceError as e:
        tl, problem, status = None, e.message, e.status
    return _page(
        request,
        "timeline.html",
        status=status,
        who=who,
        account_id=account_id,
        account_name=(tl.account_name if tl else "") or account_id,
        tl=tl,
        facts=fact_rows(request.app.state.svc.settings.facts_path, tl.facts if tl else {}),
        problem=problem,
        person_name=request.app.state.svc.name,
    )


def fact_rows(schema_path: Path, facts: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value as read) of an account's facts, in the schema's order, unknown names last."""
    try:
        schema = facts_schema(schema_path)
    except (DefinitionError, OSError):  # a broken schema file: the values still show, by name
        schema = FactsSchema()
    order = {f.name: i for i, f in enumerate(schema.facts)}

    def shown(value: Any) -> str:
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)

    return [
        ((spec.label if (spec := schema.get(name)) else name), shown(value))
        for name, value in sorted(facts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    ]


def edits_from(form: Any) -> dict[str, str]:
    """The approval card's editable parts (`edit.<part>`), only those changed from the text shown
    (`orig.<part>`), so the timeline names what the approver really rewrote."""

    def norm(v: Any) -> str:
        return str(v).replace("\r\n", "\n").strip()

    return {
        k.removeprefix("edit."): norm(v)
        for k, v in form.multi_items()
        if k.startswith("edit.") and norm(v) != norm(form.get("orig." + k.removeprefix("edit."), ""))
    }


@router.post(
    "/act",
    response_class=RedirectResponse,
    status_code=303,
    summary="Inbox: approve (with the email's edited parts, fields edit.<part>), skip, snooze, complete, "
    "resend or reassign (form post, then back to the inbox)",
)
async def act(
    request: Request,
    workflow_id: str = Form(..., max_length=500),
    step_id: str = Form(..., max_length=200),
    action: Literal[
        "approve", "skip", "snooze", "complete", "complete-yes", "complete-no", "reassign", "resend"
    ] = Form(...),
    csrf: str = Form(..., max_length=100),
    reason: str = Form("", max_length=2000),
    snooze_hours: Literal["1", "4", "24", "72", "168"] = Form("24"),
    assignee: str = Form("", max_length=200),
    back: str = Form("/inbox", max_length=300),
):
    found = _who(request)
    if found is None:
        return _redirect("/inbox/login")
    who, sid = found
    if not hmac.compare_digest(csrf.encode(), request.app.state.svc.sessions.csrf(sid).encode()):
        return _redirect("/inbox", "The form was stale; reload the page and try again.", error=True)
    back = back if back.startswith("/inbox") and "//" not in back else "/inbox"  # no open redirect
    extra: dict[str, Any] = {}
    if action == "snooze":
        extra["until"] = datetime.now(UTC) + timedelta(hours=int(snooze_hours))
    if action.startswith("complete-"):  # tasks that record a yes/no fact have two buttons
        action, extra["value"] = "complete", action == "complete-yes"
    if action == "reassign":
        extra["assignee"] = assignee
    if action == "approve":
        extra["edits"] = edits_from(await request.form())
    try:
        act_ = Action(step_id=step_id, action=action, actor=who.id, reason=reason, **extra)
    except ValidationError as e:
        err = e.errors()[0]
        return _redirect(back, f"{'.'.join(map(str, err['loc']))}: {err['msg']}", error=True)
    try:
        await perform(request.app.state.svc, who, workflow_id, act_)
    except ServiceError as e:
        return _redirect(back, e.message, error=True)
    return _redirect(back, f"{action}: '{step_id}' done by {who.person.name}.")
