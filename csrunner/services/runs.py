"""Starting playbook runs and acting on them: the one place the CLI and the HTTP service share."""

from __future__ import annotations

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from csrunner.config.catalog import Catalog
from csrunner.config.settings import Settings
from csrunner.domain.messages import Account, Action, PlaybookInput, RunView
from csrunner.services.versions import Registry
from workflows.playbook import PlaybookWorkflow


def live(settings: Settings, catalog: Catalog) -> Catalog:
    """New runs start on the published version of each playbook (the file's own if never published)."""
    return Registry(settings.playbooks_dir / ".published").live(catalog)


class ActionRefused(ValueError):
    """The run said no (not pending, unknown step, ...); nothing was written."""


def run_id(account_id: str, playbook: str) -> str:
    return f"playbook:{account_id}:{playbook}"


async def start_run(
    client: Client,
    settings: Settings,
    catalog: Catalog,
    account: Account,
    playbook: str,
    workflow_id: str | None = None,
) -> tuple[str, bool]:
    """Start `playbook` for the account with the catalog's current definitions as its snapshot.
    Idempotent per (account, playbook): a second start returns the running one, started=False."""
    wid = workflow_id or run_id(account.id, playbook)
    try:
        await client.start_workflow(
            PlaybookWorkflow.run,
            PlaybookInput(
                account=account, playbook=playbook, definitions=live(settings, catalog).bundle(playbook)
            ),
            id=wid,
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return wid, False
    return wid, True


async def act(client: Client, workflow_id: str, action: Action) -> RunView:
    try:
        return await client.get_workflow_handle(workflow_id).execute_update(PlaybookWorkflow.act, action)
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        raise ActionRefused(cause.message if isinstance(cause, ApplicationError) else str(cause)) from None


async def view(client: Client, workflow_id: str) -> RunView:
    return await client.get_workflow_handle(workflow_id).query(PlaybookWorkflow.view)
