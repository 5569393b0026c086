"""What the worker-side counters count, read from the SDK's metric buffer (no server): journey
decisions by action, escalations, and the outcome of a send that fails for good or whose
delivery is unknown."""

from __future__ import annotations

from collections import Counter

import pytest
from support import acme
from temporalio.exceptions import ApplicationError
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig
from temporalio.testing import ActivityEnvironment

from activities import metrics
from csrunner.domain.journey_rules import Outcome, PlayStart
from csrunner.domain.lifecycle import Decision
from csrunner.domain.messages import SlackRequest


@pytest.fixture
def counted():
    """An activity environment on a runtime whose metrics land in a buffer; returns (env, read)."""
    buffer = MetricBuffer(10_000)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    env = ActivityEnvironment()
    env.metric_meter = runtime.metric_meter

    def read() -> Counter:
        out: Counter = Counter()
        for u in buffer.retrieve_updates():
            labels = {
                k: v
                for k, v in u.attributes.items()
                if k in ("channel", "outcome", "kind", "action", "playbook")
            }
            out[u.metric.name, tuple(sorted(labels.items()))] += u.value
        return out

    yield env, read
    del runtime


def slack(template: str) -> SlackRequest:
    return SlackRequest(
        key="journey:acme/onboarding/1/onboarding/day4-approve:escalate:1",
        account=acme(),
        to="@carlos",
        template=template,
    )


def test_decisions_by_action_and_retention_plays_as_escalations(counted):
    env, read = counted
    critical = PlayStart(slot="retention", playbook="retention-critical", reason="score 38")
    outcomes = [
        Outcome(starts=[critical]),
        Outcome(decision=Decision(preempt=["journey:acme/expansion/1"])),
        Outcome(error="model changed"),
        Outcome(),
    ]
    env.run(metrics.decisions, "score", outcomes)
    env.run(
        metrics.decisions,
        "deal",
        [Outcome(starts=[PlayStart(slot="onboarding", playbook="onboarding", reason="")])],
    )
    assert read() == {
        ("csr_journey_decisions", (("action", "start"), ("kind", "score"))): 1,
        ("csr_journey_decisions", (("action", "preempt"), ("kind", "score"))): 1,
        ("csr_journey_decisions", (("action", "error"), ("kind", "score"))): 1,
        ("csr_journey_decisions", (("action", "none"), ("kind", "score"))): 1,
        ("csr_journey_decisions", (("action", "start"), ("kind", "deal"))): 1,
        ("csr_escalations", (("kind", "retention_play"), ("playbook", "retention-critical"))): 1,
    }


def test_an_escalation_message_sent_counts_as_an_escalation_once(counted):
    env, read = counted
    env.run(metrics.message, "slack", "sent", slack("escalation"))
    env.run(metrics.message, "slack", "duplicate", slack("escalation"))  # a retry: not another one
    env.run(metrics.message, "slack", "sent", slack("approval_request"))
    got = read()
    assert got["csr_escalations", (("kind", "step_deadline"), ("playbook", ""))] == 1
    assert got["csr_messages", (("channel", "slack"), ("outcome", "sent"))] == 2


class Sender:
    @metrics.delivery("email")
    def send(self, req, error: ApplicationError | None):
        if error:
            raise error
        return "ok"


@pytest.mark.parametrize(
    "error, outcome",
    [
        (
            ApplicationError("400: invalid address", type="PermanentDeliveryError", non_retryable=True),
            "failed",
        ),
        (
            ApplicationError("died after the 202", type=metrics.DELIVERY_UNKNOWN, non_retryable=True),
            "unknown",
        ),
        (ApplicationError("503", type="TransientDeliveryError"), None),  # retried: the SDK counts attempts
    ],
)
def test_a_send_that_fails_for_good_or_unknown_is_counted_and_raised(counted, error, outcome):
    env, read = counted
    with pytest.raises(ApplicationError):
        env.run(Sender().send, slack("x"), error)
    expected = {("csr_messages", (("channel", "email"), ("outcome", outcome))): 1} if outcome else {}
    assert read() == expected
