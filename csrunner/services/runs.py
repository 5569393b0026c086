"""Starting playbook runs and acting on them: the one place the CLI and the HTTP service share,
with the one rights check both use (who may act on which run, who may migrate)."""

from __future__ import annotations

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from csrunner.config.accounts import Team, TeamMember
from csrunner.config.catalog import Catalog
from csrunner.config.settings import Settings
from csrunner.domain.lifecycle import EXPANSION, NPS, ONBOARDING, RECOVERY
from csrunner.domain.messages import RUN_VERSION, Account, Action, PlaybookInput, RunView
from csrunner.services.temporal import start_once
from csrunner.services.versions import Registry
from workflows.playbook import PlaybookWorkflow
from workflows.search_attributes import CSM_ID

#: Roles that see and act on every account (executives are the last rung of every escalation).
ALL_SEEING = ("ops", "executive")
#: Plays an account's journey starts itself: never a second one beside it.
JOURNEY_PLAYS = {ONBOARDING, "scaling", NPS, RECOVERY, EXPANSION}


def live(settings: Settings, catalog: Catalog) -> Catalog:
    """New runs start on the published version of each playbook (the file's own if never published)."""
    return Registry(settings.playbooks_dir / ".published").live(catalog)


class ActionRefused(ValueError):
    """The run said no (not pending, unknown step, ...), or the actor may not: nothing was written."""


def run_id(account_id: str, playbook: str) -> str:
    return f"playbook:{account_id}:{playbook}"


# --- rights -------------------------------------------------------------------------------------
def sees(team: Team, who: TeamMember) -> set[str] | None:
    """CSM ids whose runs this person sees and acts on; None means all."""
    if who.role in ALL_SEEING:
        return None
    ids = {who.id}
    if who.role == "manager":
        ids |= {p.id for p in team.people if p.manager == who.id}
    return ids


def may_act(team: Team, who: TeamMember, csm_id: str, assignee: str = "") -> bool:
    scope = sees(team, who)
    return scope is None or csm_id in scope or assignee == who.id


def member(team: Team, person_id: str, what: str = "--as") -> TeamMember:
    """The team member acting; anyone else (a typo, a made-up name) is refused."""
    found = team.get(person_id)
    if found is None:
        known = ", ".join(p.id for p in team.people) or "none: the team file is empty"
        raise ActionRefused(f"{what} {person_id!r} is not a person in the team file (known: {known})")
    return found


def check_ops(team: Team, person_id: str, what: str) -> TeamMember:
    who = member(team, person_id)
    if who.role != "ops":
        raise ActionRefused(f"{who.id} ({who.role}) may not {what}: ops only")
    return who


# --- starting and acting --------------------------------------------------------------------------
async def journey_running(client: Client, account_id: str) -> bool:
    try:
        desc = await client.get_workflow_handle(f"journey:{account_id}").describe()
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return desc.status == WorkflowExecutionStatus.RUNNING


async def start_run(
    client: Client,
    settings: Settings,
    catalog: Catalog,
    account: Account,
    playbook: str,
    workflow_id: str | None = None,
) -> tuple[str, bool]:
    """Start `playbook` for the account with the catalog's current definitions as its snapshot.
    Idempotent per (account, playbook): a second start returns the running one, started=False.
    A play the account's journey runs itself (onboarding, NPS, ...) is refused while it runs."""
    if (playbook in JOURNEY_PLAYS or playbook.startswith("retention-")) and await journey_running(
        client, account.id
    ):
        raise ActionRefused(
            f"{account.id}'s journey runs (journey:{account.id}) and starts {playbook} itself: "
            f"nothing started; see it with `csr journey {account.id}`"
        )
    return await start_once(
        client,
        PlaybookWorkflow.run,
        PlaybookInput(
            account=account,
            playbook=playbook,
            definitions=live(settings, catalog).bundle(playbook),
            version=RUN_VERSION,
        ),
        workflow_id or run_id(account.id, playbook),
        settings.task_queue,
        WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )


async def act(client: Client, workflow_id: str, action: Action) -> RunView:
    try:
        return await client.get_workflow_handle(workflow_id).execute_update(PlaybookWorkflow.act, action)
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        raise ActionRefused(cause.message if isinstance(cause, ApplicationError) else str(cause)) from None


async def act_as(client: Client, team: Team, workflow_id: str, action: Action) -> RunView:
    """`act` after the API's rights check: the actor is a team member who may act on this run
    (its CSM's accounts for a CSM, the team's for a manager, all for ops and executives, or an
    item assigned to them). The CLI acts through this."""
    who = member(team, action.actor)
    try:
        desc = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise ActionRefused(f"no run {workflow_id!r} (see the ids with `csr journey ACCOUNT`)") from None
        raise
    if desc.workflow_type != "PlaybookWorkflow":
        raise ActionRefused(f"{workflow_id!r} is not a playbook run")
    if desc.status != WorkflowExecutionStatus.RUNNING:
        why = f"run {workflow_id!r} is {desc.status.name.lower() if desc.status else 'closed'}"
        done = decided(team, await view(client, workflow_id), action.step_id)
        raise ActionRefused(f"{done} ({why})" if done else f"{why}: nothing can be acted on")
    csm = desc.typed_search_attributes.get(CSM_ID) or ""
    if not may_act(team, who, csm):
        csm, assignee = owner_and_assignee(await view(client, workflow_id), csm, action.step_id)
        if not may_act(team, who, csm, assignee):
            raise ActionRefused(f"{who.id} ({who.role}) may not act on runs of CSM {csm or '(unknown)'!r}")
    try:
        return await act(client, workflow_id, action)
    except ActionRefused as e:
        if "is not pending" not in str(e):
            raise
        raise ActionRefused(
            decided(team, await view(client, workflow_id), action.step_id) or str(e)
        ) from None


def owner_and_assignee(v: RunView, csm: str, step_id: str) -> tuple[str, str]:
    """For the rights check: the run's CSM (its CsmId attribute `csm`, else the run's own view: the
    attribute is published a moment after the run's first requests) and who `step_id` is assigned to."""
    return csm or v.csm_id, next((p.assignee for p in v.pending if p.step_id == step_id), "")


def decided(team: Team, v: RunView, step_id: str) -> str:
    """'step 'x' is not pending: already approved by María García (maria) at ...', or ''."""
    done = [r for r in v.timeline if r.step_id == step_id and r.actor != "playbook"]
    if not done:
        return ""
    r, who = done[-1], team.get(done[-1].actor)
    by = f"{who.name} ({r.actor})" if who else r.actor
    return f"step '{step_id}' is not pending: already {r.outcome} by {by} at {r.at:%Y-%m-%d %H:%M} UTC"


async def view(client: Client, workflow_id: str) -> RunView:
    return await client.get_workflow_handle(workflow_id).query(PlaybookWorkflow.view)
