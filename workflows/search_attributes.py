"""The search attributes runs publish (ids and states only, never personal data): the one list
the workflows upsert, the embedded server registers and the inbox queries."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

ACCOUNT_ID = SearchAttributeKey.for_keyword("AccountId")
CSM_ID = SearchAttributeKey.for_keyword("CsmId")
PLAYBOOK = SearchAttributeKey.for_keyword("Playbook")
CURRENT_STEP = SearchAttributeKey.for_keyword("CurrentStep")
PENDING_STEPS = SearchAttributeKey.for_keyword_list("PendingSteps")
BAND = SearchAttributeKey.for_keyword("Band")

ALL: list[SearchAttributeKey] = [ACCOUNT_ID, CSM_ID, PLAYBOOK, CURRENT_STEP, PENDING_STEPS, BAND]
