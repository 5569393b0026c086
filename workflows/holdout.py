"""The holdout in workflow code: a held-out account's email step records `held_out` instead of
sending, and the approval gating it is not asked (each behind its patch, so runs recorded before
it replay unchanged)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from csrunner.domain.definitions import PlaybookDefinition
    from csrunner.domain.effectiveness import held_out

PATCH = "holdout-emails"
REASON = "account in the play's holdout: no customer email (csr report compares)"
APPROVAL_PATCH = "holdout-approvals"
APPROVAL_REASON = "gates an email this account's holdout does not get: nobody is asked"


def held_out_of_email(account_id: str, defn: PlaybookDefinition) -> bool:
    # Only a playbook declaring a holdout asks for the patch: every other run's history is unchanged.
    return (
        bool(defn.holdout_percent)
        and held_out(account_id, defn.id, defn.holdout_percent)
        and (workflow.patched(PATCH))
    )


def held_out_of_approval(account_id: str, defn: PlaybookDefinition) -> bool:
    """An approval gating an email the account will not get asks nobody (a CSM's time is not spent
    on a message that is never sent)."""
    return (
        bool(defn.holdout_percent)
        and held_out(account_id, defn.id, defn.holdout_percent)
        and (workflow.patched(APPROVAL_PATCH))
    )
