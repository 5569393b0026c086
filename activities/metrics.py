"""The product's metrics, all defined here: names start with `csr_`, labels are few and never
personal data (no account ids either: one series per account would not scale).

Worker side (called from activities): recorded on the Temporal SDK's metric meter, so the worker's
one Prometheus endpoint (METRICS_PORT) serves them beside the SDK's own metrics; outside a worker
(unit tests) nothing is recorded. Each also logs the event with its ids.
Service side (webhooks, updates ingested, pending steps): prometheus_client's registry, which the
HTTP service serves at GET /metrics.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TypeVar

import prometheus_client
from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from temporalio import activity
from temporalio.exceptions import ApplicationError

from csrunner.domain.errors import DELIVERY_UNKNOWN
from csrunner.domain.journey_rules import Outcome

Channel = Literal["email", "slack", "task", "outbox"]
MessageOutcome = Literal["sent", "duplicate", "failed", "unknown"]
F = TypeVar("F", bound=Callable[..., Any])

#: The Slack template of an approval or task escalated up its ladder after its deadline.
ESCALATION_TEMPLATE = "escalation"

# --- worker side: the SDK's meter --------------------------------------------------------------


def _count(name: str, description: str, labels: Mapping[str, str], value: int = 1) -> None:
    if activity.in_activity():  # the meter of the worker running this activity (no-op without one)
        activity.metric_meter().create_counter(name, description).add(value, labels)


def ids(req: Any) -> dict[str, str]:
    """The ids a message request carries (its key is `workflow id/playbook/step[:suffix]`; a
    resend's `...#resend-n`, without the account)."""
    step = req.key.rsplit("/", 1)[-1].split(":", 1)[0].split("#", 1)[0]
    account = getattr(req, "account", None)
    return {"account_id": account.id, "step_id": step} if account else {"step_id": step}


def message(channel: Channel, outcome: MessageOutcome, req: Any) -> None:
    """One email, Slack message or task card: sent (or written to the outbox), a duplicate the
    ledger answered, failed for good (a CSM task follows), or of unknown fate."""
    _count(
        "csr_messages",
        "Messages by channel (email, slack, task, outbox) and outcome (sent, duplicate, failed, unknown)",
        {"channel": channel, "outcome": outcome},
    )
    level = 20 if outcome in ("sent", "duplicate") else 30  # INFO, WARNING
    what = type(req).__name__.removesuffix("Request").lower()  # email, slack, task
    where = " (outbox)" if channel == "outbox" else ""
    activity.logger.log(level, "%s %s%s", what, outcome, where, extra=ids(req))
    if outcome == "sent" and getattr(req, "template", None) == ESCALATION_TEMPLATE:
        escalation("step_deadline")


def delivery(channel: Channel) -> Callable[[F], F]:
    """Decorates a sending activity `(self, req, ...)`: its permanent failure counts as `failed`,
    an unknown delivery (DELIVERY_UNKNOWN: not retried, the CSM checks it) as `unknown`. Retried
    failures are the SDK's temporal_activity_execution_failed, per attempt."""

    def outcome(e: ApplicationError, req: Any) -> None:
        if e.type == DELIVERY_UNKNOWN:
            message(channel, "unknown", req)
        elif e.non_retryable:
            message(channel, "failed", req)

    def wrap(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def counted_async(self, req, *args, **kwargs):
                try:
                    return await fn(self, req, *args, **kwargs)
                except ApplicationError as e:
                    outcome(e, req)
                    raise

            return counted_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def counted(self, req, *args, **kwargs):
            try:
                return fn(self, req, *args, **kwargs)
            except ApplicationError as e:
                outcome(e, req)
                raise

        return counted  # type: ignore[return-value]

    return wrap


def escalation(kind: Literal["step_deadline", "retention_play"], playbook: str = "") -> None:
    _count(
        "csr_escalations",
        "Escalations: an approval or task past its deadline sent up its ladder (step_deadline), "
        "a retention play started by the journey (retention_play, with its playbook)",
        {"kind": kind, "playbook": playbook},
    )


def decisions(kind: str, outcomes: Iterable[Outcome]) -> None:
    """The journey's rule decisions (kind: deal, score, nps, expansion, retention) by action: a
    play started, plays preempted, the update refused (error), or nothing beyond its own state."""
    for out in outcomes:
        preempts = out.drop or (out.decision is not None and out.decision.preempt)
        action = "error" if out.error else "start" if out.starts else "preempt" if preempts else "none"
        _count(
            "csr_journey_decisions",
            "Journey rule decisions by what came (kind) and what it does (action)",
            {"kind": kind, "action": action},
        )
        for start in out.starts:
            if start.slot == "retention":
                escalation("retention_play", start.playbook)


# --- service side: prometheus_client ------------------------------------------------------------

prometheus_client.disable_created_metrics()  # no `_created` series beside every counter

WEBHOOKS = Counter(
    "csr_webhooks",
    "Webhook, feed and Slack requests by endpoint (the route) and HTTP status",
    ["endpoint", "status"],
)
UPDATES = Counter(
    "csr_updates_ingested",
    "Updates Temporal accepted for journeys (score, metrics, facts, nps, expansion)",
    ["kind"],
)


def ingested(updates: Iterable[Any]) -> None:
    """Score updates (each a score, metrics or facts alone), once Temporal has them."""
    for u in updates:
        UPDATES.labels("score" if u.score is not None else "metrics" if u.metrics else "facts").inc()


class PendingSteps(Collector):
    """Approvals and tasks waiting for a person, and those past their deadline, as last counted
    (the service counts them at most every `max_age` seconds, when scraped)."""

    def __init__(self, max_age: float = 30.0):
        self.max_age = max_age
        self.counts: dict[tuple[str, str], int] | None = None  # (kind, "pending"|"overdue")
        self.at = 0.0

    def stale(self) -> bool:
        return self.counts is None or time.monotonic() - self.at > self.max_age

    def set(self, counts: dict[tuple[str, str], int] | None) -> None:
        """New counts; None (Temporal did not answer) drops the gauges rather than show old ones."""
        self.counts, self.at = counts, time.monotonic()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        if self.counts is None:
            return
        for state, text in (("pending", "waiting for a person"), ("overdue", "past their deadline")):
            g = GaugeMetricFamily(f"csr_{state}_steps", f"Approvals and tasks {text}", labels=["kind"])
            for kind in ("approval", "task"):
                g.add_metric([kind], self.counts.get((kind, state), 0))
            yield g


PENDING = PendingSteps()
REGISTRY.register(PENDING)
