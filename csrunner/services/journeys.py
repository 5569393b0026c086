"""Client side of the account journey: what the CLI and the HTTP service call.

Every send is a signal-with-start on `journey:{account_id}`: it returns once Temporal has durably
recorded it, and an update for an account whose deal has not closed yet starts the journey,
which keeps the update and applies it once the deal closes. Input is validated here first: a bad
value raises ValueError naming the field, and nothing is sent.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from datetime import datetime, timedelta
from typing import Any, Optional

from pydantic import ValidationError
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from activities.metrics import UPDATES, ingested
from csrunner.config.facts import facts_schema
from csrunner.config.scoring_models import load_scoring_model
from csrunner.config.settings import Settings
from csrunner.domain.health import score_metrics
from csrunner.domain.journey_messages import (
    JOURNEY_VERSION,
    Applied,
    DealClosed,
    DealRecord,
    ExpansionSignal,
    JourneyInput,
    JourneyView,
    NpsAnswer,
    ScoreBatch,
    ScoreUpdate,
)
from csrunner.domain.messages import Account
from csrunner.domain.scoring import ScoringModel
from csrunner.domain.values import check_account_id, check_expansion_signal, check_health_score, check_nps
from workflows.journey import AccountJourneyWorkflow
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTE_KEYS

#: A journey's workflow task may carry a backlog of thousands of updates (a flood, a worker back
#: after an outage) on a busy worker: 10 s (the default) timed out and replayed in a loop.
TASK_TIMEOUT = timedelta(seconds=60)


JOURNEY_PREFIX = "journey:"


def journey_id(account_id: str) -> str:
    return f"{JOURNEY_PREFIX}{account_id}"


# --- validation (nothing is sent when any of this raises) --------------------------------------


def _check_at(at: Any, name: str = "at") -> Optional[datetime]:
    if at is not None and (not isinstance(at, datetime) or at.tzinfo is None):
        raise ValueError(f"{name} must be a timezone-aware datetime, got {at!r}")
    return at


def _check_text(value: Any, name: str, max_len: int, required: bool = False) -> str:
    if not isinstance(value, str) or len(value) > max_len or (required and not value.strip()):
        need = "a non-empty string" if required else "a string"
        raise ValueError(f"{name} must be {need} of at most {max_len} characters, got {value!r:.80}")
    return value.strip() if required else value


_MODELS: dict[tuple[str, float], ScoringModel] = {}


def default_model(settings: Settings) -> ScoringModel:
    """The default scoring model (re-read when the file changes)."""
    path = settings.scoring_model_path
    key = (str(path), path.stat().st_mtime)
    if key not in _MODELS:
        _MODELS.clear()
        _MODELS[key] = load_scoring_model(path)
    return _MODELS[key]


def score_update(
    settings: Settings,
    *,
    score: Any = None,
    metrics: Any = None,
    at: Any = None,
    source: Any = "",
    facts: Any = None,
) -> ScoreUpdate:
    """A validated update: a score or metrics (not both; metric names and values per the model),
    and/or account facts (per the facts schema); facts alone only update what templates see."""
    if score is not None and metrics is not None:
        raise ValueError("give one of 'score' (0-100) or 'metrics' (a mapping of metric values), not both")
    if score is None and metrics is None and facts is None:
        raise ValueError(
            "give 'score' (0-100), 'metrics' (a mapping of metric values) or 'facts' (account facts)"
        )
    checked_facts = check_facts(settings, facts) if facts is not None else {}
    if score is not None:
        try:
            score = check_health_score(score)
        except ValueError as e:
            raise ValueError(f"score: {e}") from None
    elif metrics is not None:
        if not isinstance(metrics, dict) or not metrics:
            raise ValueError(
                f"metrics must be a non-empty mapping of metric name to value, got {metrics!r:.80}"
            )
        if any(isinstance(v, float) and not math.isfinite(v) for v in metrics.values()):
            raise ValueError("metrics: values must be finite numbers or categories")
        try:
            score_metrics(default_model(settings), metrics)
        except ValueError as e:
            raise ValueError(f"metrics: {e}") from None
    return ScoreUpdate(
        score=score,
        metrics=metrics or {},
        facts=checked_facts or None,
        at=_check_at(at),
        source=_check_text(source, "source", 200),
    )


def check_facts(settings: Settings, facts: Any, field: str = "facts", text: bool = False) -> dict[str, Any]:
    """Account facts checked against playbooks/scoring/facts.yaml (ValueError names `field.name`)."""
    if not facts and isinstance(facts, dict):
        raise ValueError(f"{field} must be a non-empty mapping of fact name to value")
    return facts_schema(settings.facts_path).check(facts, field, text)


def nps_answer(account_id: Any, score: Any, comment: Any = "", at: Any = None) -> NpsAnswer:
    check_account_id(account_id)
    return NpsAnswer(score=check_nps(score), comment=_check_text(comment, "comment", 2000), at=_check_at(at))


def expansion_signal(account_id: Any, signal: Any, detail: Any = "") -> ExpansionSignal:
    check_account_id(account_id)
    return ExpansionSignal(
        signal=check_expansion_signal(_check_text(signal, "signal", 200, required=True)),
        detail=_check_text(detail, "detail", 2000),
    )


# --- sending -----------------------------------------------------------------------------------


_SA_SUPPORT: dict[int, bool] = {}


async def search_attributes_supported(client: Client, settings: Settings) -> bool:
    """Whether the namespace has our search attributes (the time-skipping test server has none).
    `Settings.journey_search_attributes` (JOURNEY_SEARCH_ATTRIBUTES=0/1) overrides the check."""
    if settings.journey_search_attributes is not None:
        return settings.journey_search_attributes
    if id(client) not in _SA_SUPPORT:
        try:
            resp = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=client.namespace)
            )
            _SA_SUPPORT[id(client)] = all(k.name in resp.custom_attributes for k in SEARCH_ATTRIBUTE_KEYS)
        except RPCError:
            _SA_SUPPORT[id(client)] = False
    return _SA_SUPPORT[id(client)]


async def _input(client: Client, settings: Settings, account_id: str) -> JourneyInput:
    return JourneyInput(
        account_id=account_id,
        search_attributes=await search_attributes_supported(client, settings),
        version=JOURNEY_VERSION,
    )


async def _send(client: Client, settings: Settings, account_id: str, signal: str, message) -> WorkflowHandle:
    return await client.start_workflow(
        AccountJourneyWorkflow.run,
        await _input(client, settings, account_id),
        id=journey_id(account_id),
        task_queue=settings.task_queue,
        task_timeout=TASK_TIMEOUT,
        start_signal=signal,
        start_signal_args=[message],
    )


async def deal_closed(
    client: Client,
    settings: Settings,
    account: Account,
    deal_id: str,
    closed_at: datetime | None = None,
    *,
    token: str | None = None,
) -> tuple[str, bool]:
    """Start the account's lifecycle (onboarding). The same deal again returns (id, False) and
    changes nothing; a later deal for the same account is only recorded. A caller that may send
    again (the HubSpot intake's retried activity) passes its own stable `token`, so its retry
    still learns that it was the one that started the journey."""
    if isinstance(account, dict):
        try:
            account = Account.model_validate(account)
        except ValidationError as e:
            raise ValueError(f"account: {e}") from None
    if not isinstance(account, Account):
        raise ValueError(f"account must be an Account, got {type(account).__name__}")
    check_account_id(account.id)
    if account.facts:
        account = account.model_copy(
            update={"facts": facts_schema(settings.facts_path).check(account.facts, "facts")}
        )
    deal_id = _check_text(deal_id, "deal_id", 200, required=True)
    token = token or uuid.uuid4().hex
    msg = DealClosed(
        account=account, deal_id=deal_id, closed_at=_check_at(closed_at, "closed_at"), token=token
    )
    handle = await _send(client, settings, account.id, "deal_closed", msg)
    # The SDK keeps the server's answer; `started` says this call created the journey (then its
    # deal is the first). Otherwise the journey says which call recorded the deal first.
    resp = getattr(handle, "_start_workflow_response", None)
    if resp is not None and getattr(resp, "started", False):
        return handle.id, True
    rec = await _deal_record(handle, deal_id)
    return handle.id, bool(rec and rec.token == token and rec.started_lifecycle)


async def _deal_record(handle: WorkflowHandle, deal_id: str, wait: float = 5.0) -> Optional[DealRecord]:
    """Which call recorded the deal first (asks the journey; None when no worker answers in time)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            rec = await handle.query(AccountJourneyWorkflow.deal, deal_id, rpc_timeout=timedelta(seconds=2))
        except Exception:
            rec = None
        if rec is not None:
            return rec
        await asyncio.sleep(0.05)
    return None


async def push_score(
    client: Client,
    settings: Settings,
    account_id: str,
    *,
    score: float | None = None,
    metrics: dict | None = None,
    at: datetime | None = None,
    source: str = "",
    facts: dict | None = None,
) -> str:
    update = score_update(settings, score=score, metrics=metrics, at=at, source=source, facts=facts)
    wid = (await _send(client, settings, check_account_id(account_id), "score", update)).id
    ingested([update])
    return wid


async def push_nps(
    client: Client,
    settings: Settings,
    account_id: str,
    score: int,
    comment: str = "",
    at: datetime | None = None,
) -> str:
    msg = nps_answer(account_id, score, comment, at)
    wid = (await _send(client, settings, account_id, "nps", msg)).id
    UPDATES.labels("nps").inc()
    return wid


async def push_expansion_signal(
    client: Client, settings: Settings, account_id: str, signal: str, detail: str = ""
) -> str:
    msg = expansion_signal(account_id, signal, detail)
    wid = (await _send(client, settings, account_id, "expansion", msg)).id
    UPDATES.labels("expansion").inc()
    return wid


async def journey_view(client: Client, account_id: str) -> JourneyView:
    wid = journey_id(check_account_id(account_id))
    return await client.get_workflow_handle(wid).query(AccountJourneyWorkflow.view)


# --- batches: one call per account, answered once applied ------------------------------------


async def apply_batch(
    client: Client,
    settings: Settings,
    account_id: str,
    updates: list[ScoreUpdate],
    batch_id: str,
    wait: float = 60.0,
) -> Optional[Applied]:
    """One account's updates as one update-with-start: starts the journey if needed and returns
    what it did once it has applied them. None when it had not within `wait` seconds (no worker,
    or the server refused more in-flight updates): the batch is then recorded by
    signal-with-start instead (the journey applies a batch id once), and nothing is lost."""
    batch = ScoreBatch(batch_id=batch_id, updates=updates)
    op = WithStartWorkflowOperation(
        AccountJourneyWorkflow.run,
        await _input(client, settings, account_id),
        id=journey_id(account_id),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        task_queue=settings.task_queue,
        task_timeout=TASK_TIMEOUT,
    )
    try:
        applied = await asyncio.wait_for(
            client.execute_update_with_start_workflow(
                AccountJourneyWorkflow.apply, batch, start_workflow_operation=op
            ),
            wait,
        )
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError, RPCError):
        await _send(client, settings, account_id, "scores", batch)
        applied = None
    ingested(updates)
    return applied


async def send_batch(
    client: Client, settings: Settings, account_id: str, updates: list[ScoreUpdate], batch_id: str
) -> str:
    """One account's updates as one signal-with-start (recorded, applied in order)."""
    batch = ScoreBatch(batch_id=batch_id, updates=updates)
    wid = (await _send(client, settings, check_account_id(account_id), "scores", batch)).id
    ingested(updates)
    return wid


# The CSV import lives in csrunner.services.score_import; these names stay importable from here.
from csrunner.services.score_import import (  # noqa: E402
    ImportSummary,
    ScoreRow,
    import_scores,
    read_scores_csv,
)

__all__ = ["ImportSummary", "ScoreRow", "import_scores", "read_scores_csv"]
